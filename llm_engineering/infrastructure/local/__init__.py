"""Processes this project starts on the developer's machine, and the helpers to run them.

`processes.py` holds the one set of process and port helpers (port and HTTP probes, free ports, console
scripts of the virtualenv, stopping a child or a daemon); `local_infrastructure.py` starts, stops and reports
the local infrastructure as one unit: the MongoDB-compatible warehouse (`warehouse.py`: Docker compose or the
embedded `nx-27017`) and the ZenML dashboard, on this checkout's store and port (`zenml_server.py`);
`llm_server.py` runs the OpenAI-compatible local LLM (`transformers serve`); `api_server.py` runs an ASGI app
under uvicorn and waits for its warm-up.

Nothing here starts on import: every process is started by an explicit call and stopped by its owner.
"""
