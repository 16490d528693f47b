"""The Hugging Face Hub: `datasets.py` pushes and loads fine-tuning datasets (`datasets`), `models.py` pushes a
model folder (`huggingface_hub`); both translate the libraries' errors into `DatasetPublishError`. The Hub
libraries are imported when a call needs them."""
