from enum import StrEnum


class DataCategory(StrEnum):
    """Kinds of data the system handles; the raw values double as MongoDB collection names."""

    PROMPT = "prompt"
    QUERIES = "queries"

    INSTRUCT_DATASET_SAMPLES = "instruct_dataset_samples"
    INSTRUCT_DATASET = "instruct_dataset"
    PREFERENCE_DATASET_SAMPLES = "preference_dataset_samples"
    PREFERENCE_DATASET = "preference_dataset"

    POSTS = "posts"
    ARTICLES = "articles"
    REPOSITORIES = "repositories"


# The categories that hold an author's writing (raw, cleaned, chunked, embedded).
CONTENT_CATEGORIES: tuple[DataCategory, ...] = (
    DataCategory.POSTS,
    DataCategory.ARTICLES,
    DataCategory.REPOSITORIES,
)
