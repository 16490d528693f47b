"""Dataset generation: instruction and preference datasets built from the author's cleaned documents.

Belongs here: extract selection from cleaned documents, teacher (LLM) and offline generation of
instruct / preference samples, validation and curation, train/test splits. Talks to LLMs through the
`application.llm.LLMClient` port and to the feature store through the domain's vector documents;
no driver imports. The dataset entities themselves live in `domain/`, the ZenML step in
`steps/generate_datasets/`.
"""
