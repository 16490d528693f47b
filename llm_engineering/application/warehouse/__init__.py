"""The data warehouse as a whole: backup (`backup.py`: export to and import from JSON files) and corpus
importers that turn files written outside the crawlers into warehouse documents (`markdown_import.py`).
"""
