"""Which model the local engine serves and the API asks for (`served_model.py`)."""
