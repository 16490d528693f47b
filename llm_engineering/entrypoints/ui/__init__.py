"""The web UI of the twin: HTML pages (`pages.py`) and their JSON routes under `/ui/api` (`api.py`: authors
and their documents, crawl jobs, models), added to the FastAPI app when the setting API_ENABLE_UI is on."""
