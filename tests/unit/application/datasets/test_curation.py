import pytest

from llm_engineering.application.datasets.curation import (
    CurationReport,
    CurationStepReport,
    FilterConfig,
    apply_rule_filters,
    curate,
    decontaminate,
    filter_by_quality,
    parse_judge_score,
    remove_exact_duplicates,
    remove_near_duplicates,
    rule_violation,
)
from llm_engineering.domain.datasets import DatasetType, InstructDatasetSample, PreferenceDatasetSample, Provenance

ANSWER = (
    "Chunk along headings so each chunk keeps one idea, then embed the chunks and store them with their "
    "metadata for filtering."
)
LONG_ANSWER = (
    "Retrieval augmented generation keeps a language model honest by grounding each answer in passages "
    "fetched from a vector database at query time. The pipeline cleans the raw documents, splits them into "
    "chunks along headings, embeds every chunk with a sentence transformer and stores the vectors next to "
    "their metadata. At query time the question is expanded into several phrasings, each phrasing is embedded "
    "and searched, and the union of the hits is reranked by a cross encoder that reads the question and the "
    "passage together. Only the best few passages go into the prompt, which keeps the prompt short, cheap "
    "and focused, and lets the model cite where each claim comes from."
)
OTHER_LONG_ANSWER = (
    "Supervised fine tuning teaches a base model to follow instructions by showing it thousands of pairs of a "
    "request and a good reply. Low rank adapters train a small number of extra weights instead of the whole "
    "network, so a single graphics card is enough for an eight billion parameter model. Preference alignment "
    "comes afterwards and nudges the model towards the style the author actually writes in."
)
CONFIG = FilterConfig()


def instruct(instruction: str = "How should I chunk my documents?", answer: str = ANSWER, doc: str = "d1"):
    return InstructDatasetSample(instruction=instruction, answer=answer, provenance=Provenance(document_id=doc))


def preference(chosen: str = ANSWER, rejected: str = "Just split every 500 characters."):
    return PreferenceDatasetSample(instruction="How should I chunk my documents?", chosen=chosen, rejected=rejected)


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (instruct(instruction="Chunk?"), "instruction_too_short"),
        (instruct(instruction="Why " + "really " * 90 + "chunk?"), "instruction_too_long"),
        (instruct(answer="Along headings."), "answer_too_short"),
        (instruct(answer=ANSWER * 40), "answer_too_long"),
        (instruct(answer=ANSWER.lower()), "answer_format"),
        (instruct(answer=ANSWER.rstrip(".")), "answer_format"),
        (instruct(answer="As an AI language model, I think " + ANSWER), "refusal"),
        (instruct(answer="I\u2019m sorry, but I can't share that. " + ANSWER), "refusal"),
        (instruct(answer="I cannot help with that request. " + ANSWER), "refusal"),
        (instruct(instruction="Based on the context, how should I chunk?"), "mentions_source"),
        (instruct(answer="The provided text says: " + ANSWER), "mentions_source"),
        (instruct(instruction="Summarise this excerpt about chunking."), "mentions_source"),
    ],
)
def test_each_rule_removes_with_its_reason(sample, reason):
    kept, report = apply_rule_filters([sample], CONFIG)
    assert kept == []
    assert report.removed == {reason: 1}
    assert report.kept == 0 and report.removed_total == 1


@pytest.mark.parametrize(
    "sample",
    [
        instruct(),
        instruct(answer='"Chunk along headings," the author says, "and keep each idea whole." ' + ANSWER),
        instruct(answer="3 rules matter when you chunk. " + ANSWER[:-1] + " (and for reranking.)"),
        instruct(answer="As an AI engineer, I cannot stress this enough. " + ANSWER),
        instruct(answer="Keep the context window small. " + ANSWER + " The passage of a chunk is its text."),
        instruct(instruction="What is context engineering?"),
    ],
)
def test_good_samples_and_author_prose_pass_every_rule(sample):
    assert rule_violation(sample, CONFIG) is None


def test_the_first_failing_rule_wins_and_kept_order_is_preserved():
    samples = [
        instruct(instruction="First question about chunking?"),
        instruct(instruction="Short", answer="too short"),  # instruction, answer and format all fail
        instruct(instruction="Second question about chunking?"),
        instruct(answer="As an AI, I would say " + ANSWER.rstrip(".")),  # format comes before refusal
        instruct(instruction="Third question about chunking?"),
    ]
    kept, report = apply_rule_filters(samples, CONFIG)
    assert [s.instruction for s in kept] == [
        "First question about chunking?",
        "Second question about chunking?",
        "Third question about chunking?",
    ]
    assert report.as_metadata() == {"kept": 3, "removed": {"answer_format": 1, "instruction_too_short": 1}}


def test_answer_format_can_be_turned_off_and_blocked_keywords_match_whole_words():
    lowercase = instruct(answer=ANSWER.lower())
    assert rule_violation(lowercase, FilterConfig(require_answer_format=False)) is None
    config = FilterConfig(blocked_keywords=("ACME Corp", "gpu"))
    assert rule_violation(instruct(answer=ANSWER + " Ask acme  corp for more."), config) == "blocked_keyword"
    assert rule_violation(instruct(instruction="Which GPU do I need for chunking?"), config) == "blocked_keyword"
    assert rule_violation(instruct(answer=ANSWER + " The gpus are idle."), config) is None


def test_preference_only_rules():
    kept, report = apply_rule_filters(
        [
            preference(),
            preference(rejected="   "),
            preference(rejected="  " + ANSWER.upper().replace(" ", "\n ")),
            preference(chosen="Too short."),
        ],
        CONFIG,
    )
    assert kept == [preference()]
    assert report.removed == {"answer_too_short": 1, "rejected_empty": 1, "rejected_equals_chosen": 1}
    # The same rules never apply to instruct samples, and the refusal rule reads the chosen answer only.
    assert rule_violation(preference(rejected="I'm sorry, but I cannot help."), CONFIG) is None


def test_defaults_per_dataset_type():
    assert FilterConfig.for_dataset(DatasetType.PREFERENCE) == FilterConfig()
    assert FilterConfig.for_dataset(DatasetType.PREFERENCE).min_answer_chars == 100
    assert FilterConfig.for_dataset(DatasetType.INSTRUCTION).min_answer_chars == 50


def test_exact_duplicates_ignore_case_and_whitespace():
    samples = [
        instruct(doc="a"),
        instruct(instruction="HOW should I chunk   my documents?", answer="  " + ANSWER.upper(), doc="b"),
        instruct(instruction="How should I embed my documents?", doc="c"),
        instruct(answer=ANSWER.replace(" ", "\n\t"), doc="d"),
    ]
    kept, report = remove_exact_duplicates(samples)
    assert [s.document_id for s in kept] == ["a", "c"]
    assert report.as_metadata() == {"kept": 2, "removed": {"exact_duplicate": 2}}


def test_near_duplicates_are_removed_and_different_samples_kept_deterministically():
    samples = [
        instruct("What does the RAG pipeline do?", LONG_ANSWER, doc="a"),
        instruct("What does fine tuning do?", OTHER_LONG_ANSWER, doc="b"),
        instruct("What does the RAG pipeline do?", LONG_ANSWER.replace("honest", "truthful"), doc="c"),
        instruct("What does the RAG pipeline do?", OTHER_LONG_ANSWER, doc="d"),
    ]
    kept, report = remove_near_duplicates(samples)
    assert [s.document_id for s in kept] == ["a", "b", "d"]
    assert report.removed == {"near_duplicate": 1}
    again, _ = remove_near_duplicates(samples)
    assert again == kept
    # A stricter threshold keeps the one-word variant.
    assert len(remove_near_duplicates(samples, threshold=0.99)[0]) == 4


def test_decontamination_removes_only_training_samples_that_leak_the_test_split():
    test = [instruct("What does the RAG pipeline do?", LONG_ANSWER, doc="t")]
    test_before = list(test)
    copied_sentences = " ".join(LONG_ANSWER.split(". ")[1:3]) + "."
    train = [
        instruct("WHAT does the RAG pipeline do?", "  " + LONG_ANSWER, doc="exact"),
        instruct("Describe the indexing pipeline.", copied_sentences, doc="copy"),
        instruct("What does fine tuning do?", OTHER_LONG_ANSWER, doc="unrelated"),
        instruct("What should I know?", OTHER_LONG_ANSWER + " " + LONG_ANSWER.split(". ")[1] + ".", doc="one"),
    ]
    kept, report = decontaminate(train, test)
    assert [s.document_id for s in kept] == ["unrelated", "one"]
    assert report.as_metadata() == {"kept": 2, "removed": {"test_exact": 1, "test_overlap": 1}}
    assert test == test_before
    # A single copied sentence in a long answer is below the default overlap, not below a strict one.
    assert [s.document_id for s in decontaminate(train, test, max_overlap=0.1)[0]] == ["unrelated"]


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Feedback: Clear and accurate.\nScore: 3", 3),
        ("Feedback: fine.\nscore: 3/4", 3),
        ("**Feedback:** Great.\n**Score:** 4", 4),
        ('{"feedback": "ok", "score": 2}', 2),
        ('{"score": "1"}', 1),
        ("Score: 4 out of 4", 4),
        ("Feedback: a score of 1 would be unfair here.\nScore: 4.", 4),
        ("Score: 3.5", None),
        ("Score: 5", None),
        ("Score: 0", None),
        ("score: 4/5", None),
        ("Feedback: no verdict given.", None),
        ("", None),
        ("The underscore: 3", None),
    ],
)
def test_parse_judge_score(text, score):
    assert parse_judge_score(text) == score


class FakeJudge:
    def __init__(self, scores: dict[str, int | None]):
        self.scores = scores

    def score(self, sample):
        return self.scores[sample.document_id]


def test_filter_by_quality_keeps_good_and_failed_samples():
    samples = [instruct(doc=doc) for doc in ("good", "poor", "failed", "best", "weird", "fair")]
    judge = FakeJudge({"good": 3, "poor": 1, "failed": None, "best": 4, "weird": 7, "fair": 2})
    kept, report, scores = filter_by_quality(samples, judge)
    assert [s.document_id for s in kept] == ["good", "failed", "best", "weird"]
    assert scores == [3, 1, None, 4, None, 2]
    assert report.as_metadata() == {"kept": 4, "removed": {"low_quality": 2}, "notes": {"judge_failed": 2}}
    assert len(filter_by_quality(samples, judge, min_score=4)[0]) == 3


def test_curate_chains_filters_exact_and_near_deduplication():
    samples = [
        instruct("What does the RAG pipeline do?", LONG_ANSWER, doc="a"),
        instruct("Chunk?", LONG_ANSWER, doc="short"),
        instruct("what does the RAG pipeline do? ", LONG_ANSWER, doc="exact"),
        instruct("What does the RAG pipeline do?", LONG_ANSWER.replace("honest", "truthful"), doc="near"),
        instruct("What does fine tuning do?", OTHER_LONG_ANSWER, doc="b"),
    ]
    kept, reports = curate(samples, CONFIG)
    assert [s.document_id for s in kept] == ["a", "b"]
    assert CurationReport(reports).as_metadata() == {
        "rule_filters": {"kept": 4, "removed": {"instruction_too_short": 1}},
        "exact_dedup": {"kept": 3, "removed": {"exact_duplicate": 1}},
        "near_dedup": {"kept": 2, "removed": {"near_duplicate": 1}},
    }
    assert len(curate(samples, CONFIG, near_duplicate_threshold=0.99)[0]) == 3


def test_step_report_totals():
    report = CurationStepReport(name="x", kept=5, removed={"a": 2, "b": 3})
    assert report.removed_total == 5
    assert report.as_metadata() == {"kept": 5, "removed": {"a": 2, "b": 3}}
    assert CurationReport().as_metadata() == {}
