"""The llama.cpp engine of the local LLM: GGUF models served over llama-cpp-python's bindings."""
