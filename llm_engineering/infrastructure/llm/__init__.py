"""LLM clients: any OpenAI-compatible server (`openai_compatible.py`) and the SageMaker TGI endpoint
(`sagemaker.py`). `llm_engineering.bootstrap.build_llm_client` chooses and configures one from settings."""
