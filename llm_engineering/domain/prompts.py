"""The one prompt-template module: the instruction format shared by dataset generation, training and
serving, and the prompts of the RAG steps (answer generation, query expansion, self-query).

Pure string templates, no I/O. Training formats samples with `format_instruction_prompt`; the local model
is served with `INSTRUCTION_CHAT_TEMPLATE` (the same layout as a Jinja chat template), so a fine-tuned
model sees at inference exactly the layout it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# --- Instruction format (Alpaca-style: preamble, instruction block, response block) -------------------
INSTRUCTION_PREAMBLE = (
    "The text below is a request for a piece of writing. Reply with writing that fulfils the request."
)
INSTRUCTION_HEADER = "### Instruction:"
INPUT_HEADER = "### Input:"
RESPONSE_HEADER = "### Response:"

# Strings that end a reply: a base model tends to run on into a new instruction block.
STOP_SEQUENCES: tuple[str, ...] = (f"\n{INSTRUCTION_HEADER}", f"\n{INPUT_HEADER}", f"\n{RESPONSE_HEADER}")


def format_instruction_prompt(
    instruction: str, context: str | None = None, response: str = "", preamble: str = INSTRUCTION_PREAMBLE
) -> str:
    """The instruction layout used everywhere: preamble, instruction, optional input, response header.

    With `response` empty it is a generation prompt; with a response it is one training sample
    (callers add the tokenizer's end-of-sequence token when they train). `preamble` is what a system
    message puts in its place (the chat template does the same), e.g. `RAG_SYSTEM_PROMPT`.
    """
    parts = [preamble, "", INSTRUCTION_HEADER, instruction.strip(), ""]
    if context:
        parts += [INPUT_HEADER, context.strip(), ""]
    parts.append(RESPONSE_HEADER)
    return "\n".join(parts) + "\n" + response


# Jinja chat template with the same layout, saved with the served model. System messages replace the
# preamble; each user turn is an instruction block; each assistant turn a response block closed by EOS.
_CHAT_TEMPLATE_BODY = (
    "{%- set preamble = namespace(text='" + INSTRUCTION_PREAMBLE + "') -%}"
    "{%- for message in messages if message['role'] == 'system' -%}"
    "{%- set preamble.text = message['content'] -%}"
    "{%- endfor -%}"
    "{{- preamble.text + '\\n\\n' -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{- '" + INSTRUCTION_HEADER + "\\n' + message['content'] | trim + '\\n\\n' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '" + RESPONSE_HEADER + "\\n' + message['content'] | trim + eos_token + '\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '" + RESPONSE_HEADER + "\\n' -}}{%- endif -%}"
)
_BOS_PREFIX = "{%- if bos_token -%}{{- bos_token -}}{%- endif -%}"


def instruction_chat_template(bos: bool = True) -> str:
    """The chat template for a tokenizer that adds BOS to encoded text (`bos=True`, Gemma and Llama) or not.

    Servers tokenize a rendered chat without adding special tokens, while training tokenizes prompts with
    them: the template writes BOS itself exactly when training saw one (a Gemma model fed no BOS only
    echoes its prompt).
    """
    return (_BOS_PREFIX if bos else "") + _CHAT_TEMPLATE_BODY


INSTRUCTION_CHAT_TEMPLATE = instruction_chat_template(bos=True)


# --- RAG answer --------------------------------------------------------------------------------------
RAG_SYSTEM_PROMPT = (
    "You write in the voice of the author whose notes are given as numbered passages. Base the answer on "
    "those passages; if they do not cover the request, say so briefly instead of inventing facts."
)


def format_rag_instruction(query: str, context: str, passages: int) -> str:
    """The user turn of a RAG answer: the request, then the numbered passages it may cite.

    `passages` is how many numbered passages `context` holds, so the model is told exactly which numbers
    exist. (Measured on the local 270M base model: with the request first it stays with the passages;
    with the request last it drifts into invented text.)
    """
    if passages == 0 or not context.strip():
        return (
            f"{query.strip()}\n\n(No passages from the author's writing matched this request: say so in one sentence.)"
        )
    cite = "[1]" if passages == 1 else f"[1] to [{passages}]"
    return (
        f"{query.strip()}\n\nPassages from the author's writing, to use as the main source (cite them as "
        f"{cite}):\n\n{context.strip()}"
    )


def number_passages(passages: Sequence[str]) -> str:
    """The RAG prompt's context: each passage in its own block, numbered from 1 in the given order."""
    return "\n\n".join(f"[{number}] {text.strip()}" for number, text in enumerate(passages, start=1))


def rag_turns(query: str, passages: Sequence[str]) -> tuple[str, str]:
    """(system, user) turns of a RAG answer: what `/rag` sends and what retrieval-aware training prompts
    hold, so the twin sees at serving time the layout it learnt."""
    return RAG_SYSTEM_PROMPT, format_rag_instruction(query, number_passages(passages), len(passages))


def format_rag_prompt(query: str, passages: Sequence[str], response: str = "") -> str:
    """`rag_turns` rendered in the instruction layout, as the served chat template renders them (system
    message in place of the preamble): the training prompt of a retrieval-aware sample."""
    system, user = rag_turns(query, passages)
    return format_instruction_prompt(user, response=response, preamble=system)


# --- Query expansion ---------------------------------------------------------------------------------
QUERY_EXPANSION_SEPARATOR = "#next-question#"


@dataclass(frozen=True)
class QueryExpansionPrompt:
    """Asks for `n_variants` rewordings of a question, one per line or split by the separator."""

    n_variants: int
    separator: str = QUERY_EXPANSION_SEPARATOR

    def render(self, question: str) -> str:
        return (
            f"Rewrite the search question below in {self.n_variants} different ways, so that each version "
            "looks at the topic from another angle and together they find more relevant passages in a "
            f"semantic search index. Put '{self.separator}' between the versions and write nothing else.\n\n"
            f"Question: {question.strip()}"
        )


# --- Self-query (author extraction) ------------------------------------------------------------------
SELF_QUERY_NONE = "none"

SELF_QUERY_PROMPT = (
    "Find who the writer of the question says they are. Reply with the person's full name exactly as "
    "written, or with their numeric user id if they give one instead, or with the single word "
    f"'{SELF_QUERY_NONE}' when the question names nobody. Reply with nothing else.\n\n"
    "Question: I am Ada Quill and I need a short note on caching.\nAnswer: Ada Quill\n\n"
    "Question: Draft a paragraph about vector databases.\nAnswer: none\n\n"
    "Question: User 4411 here, summarise my thoughts on testing.\nAnswer: 4411\n\n"
    "Question: {question}\nAnswer:"
)


def format_self_query_prompt(question: str) -> str:
    return SELF_QUERY_PROMPT.replace("{question}", question.strip())


# --- Dataset generation ----------------------------------------------------------------------------------
# Teacher prompts ask for JSON; the parser also accepts a bare list or prose around the JSON, because
# servers without JSON mode (and smaller teachers) do not follow output formats reliably.
DATASET_INSTRUCT_SYSTEM_PROMPT = (
    "You turn an author's writing into training data for a model that should write like that author. "
    "You answer with one JSON object and nothing else."
)

DATASET_INSTRUCT_PROMPT = """Read the excerpt of the author's writing at the end and write {count} instruction-answer pairs from it.

Rules:
- Each instruction is a self-contained request a reader could ask with no excerpt at hand, e.g. "Explain why
  rerankers help retrieval." Never refer to an excerpt, a context, a text, an article or a course.
- Each answer is one paragraph that fulfils its instruction using only facts from the excerpt, written in the
  author's voice: keep their tone, vocabulary and sentence rhythm. Prefer reusing the author's own sentences.
- Cover different topics of the excerpt; do not repeat an instruction.

Reply with this JSON shape:
{{"instruction_answer_pairs": [{{"instruction": "...", "answer": "..."}}]}}

Excerpt:
{extract}
"""

DATASET_PREFERENCE_SYSTEM_PROMPT = (
    "You build preference data that teaches a model an author's voice: for each request, the author's own "
    "words are preferred over a generic answer. You answer with one JSON object and nothing else."
)

DATASET_PREFERENCE_PROMPT = """Read the excerpt of the author's writing at the end and write {count} triples from it.

Each triple has:
- "instruction": a self-contained request about one topic of the excerpt that never refers to an excerpt,
  a context, a text, an article or a course;
- "generated_answer": the answer a generic assistant would write to the instruction;
- "extracted_answer": the sentences of the excerpt that answer the instruction, copied exactly: same words,
  punctuation and apostrophes, no ellipses ("..." or "[...]"). When the answer spans separate places, copy
  two whole sentences rather than skipping words.

Reply with this JSON shape:
{{"preference_triples": [{{"instruction": "...", "generated_answer": "...", "extracted_answer": "..."}}]}}

Excerpt:
{extract}
"""

# Back-translation with a small base model: a few-shot completion, one line out. The examples are ours;
# a model that copies one back instead of writing its own request is rejected by validation.
BACK_TRANSLATION_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        (
            "Chunk size is a product decision, not a tuning knob. Small chunks give precise matches but lose the "
            "surrounding argument; large chunks keep the argument but dilute the embedding."
        ),
        "Explain how chunk size changes what a retrieval system finds.",
    ),
    (
        (
            "A reranker reads the query and each candidate together, so it catches relevance that two separate "
            "embeddings miss. Run it on the top fifty hits, not on the whole index."
        ),
        "Why should you rerank retrieved documents before prompting the model?",
    ),
)
BACK_TRANSLATION_EXAMPLE_REQUESTS: tuple[str, ...] = tuple(request for _, request in BACK_TRANSLATION_EXAMPLES)

BACK_TRANSLATION_PROMPT = (
    "Each passage below comes from an engineer's blog. After each passage is the request a reader would type "
    "to get exactly that passage as the answer.\n\n"
    + "".join(f"Passage: {passage}\nRequest: {request}\n\n" for passage, request in BACK_TRANSLATION_EXAMPLES)
    + "Passage: {passage}\nRequest:"
)

DATASET_JUDGE_PROMPT = """You review training data. Judge how well the answer fulfils the instruction: is it relevant, correct and complete, and is it written as a direct answer?

Scores:
1: irrelevant or wrong
2: partly relevant, misses important parts
3: helpful, could be more relevant, accurate or complete
4: excellent, fully answers the instruction

Instruction: {instruction}

Answer: {answer}

Reply in exactly this format:
Feedback: (one or two sentences on strengths and weaknesses)
Score: (1, 2, 3 or 4)"""


def format_teacher_prompt(template: str, extract: str, count: int) -> str:
    """A teacher prompt for one extract (templates above, with `{count}` and `{extract}`)."""
    return template.format(count=count, extract=extract.strip())


def format_back_translation_prompt(passage: str) -> str:
    return BACK_TRANSLATION_PROMPT.format(passage=" ".join(passage.split()))


def format_judge_prompt(instruction: str, answer: str) -> str:
    return DATASET_JUDGE_PROMPT.format(instruction=instruction.strip(), answer=answer.strip())


# --- Evaluation judges -----------------------------------------------------------------------------------
# Both judges grade two criteria on 1-3 and answer in one JSON shape, parsed strictly by the application's
# judge. The shape shows `N` rather than a number, so a judge that copies it verbatim fails to parse instead
# of handing back a plausible score.
JUDGE_SYSTEM_PROMPT = (
    "You grade texts against written criteria, fairly and briefly. You reply with one JSON object and nothing else."
)

ANSWER_JUDGE_CRITERIA: tuple[str, ...] = ("accuracy", "style")
RAG_JUDGE_CRITERIA: tuple[str, ...] = ("faithfulness", "relevance")

ANSWER_JUDGE_PROMPT = """Grade the answer below on two criteria, each with a whole number from 1 to 3.

accuracy: are the facts right, and does the answer cover what the request asks for? Grade it as a specialist in the topic would.
  1 = contains wrong or misleading statements
  2 = mostly right, with small mistakes or gaps
  3 = correct and complete
style: does it read like a post on a technical author's blog or social feed? Plain words, direct sentences, technical terms only where they earn their place. Academic, formal or marketing language lowers the grade.
  1 = stiff, academic or promotional; long words where short ones would do
  2 = readable, with some formal or inflated phrasing left
  3 = plain and direct, precise where it matters, like a practitioner writing for peers

Two sentences saying the same thing, for calibrating style:
  grade 1: "Retrieval-augmented generation constitutes a paradigm wherein external knowledge repositories are leveraged to augment the generative capacities of language models."
  grade 3: "RAG looks up your notes first and hands them to the model, so it answers from your data instead of guessing."
{reference_block}
Request:
{instruction}

Answer to grade:
{answer}

Reply with only this JSON object, where N is 1, 2 or 3 and each justification is one sentence:
{{"accuracy": {{"score": N, "justification": "..."}}, "style": {{"score": N, "justification": "..."}}}}"""

ANSWER_JUDGE_REFERENCE_BLOCK = """
The author's own answer to the same request, to check facts against (the graded answer need not match its wording or cover more than it does):
{reference}
"""

RAG_JUDGE_PROMPT = """An assistant answered a question using the numbered passages below. Grade its answer on two criteria, each with a whole number from 1 to 3.

faithfulness: is every claim in the answer backed by the passages? Facts from anywhere else count as unsupported, even when true.
  1 = key claims contradict the passages or cannot be found in them
  2 = mostly backed, with some unsupported details
  3 = every claim can be traced to a passage
relevance: does the answer address the question that was asked?
  1 = off topic, or evades the question
  2 = on topic but partial, or padded with unrelated material
  3 = answers the question directly and fully
An answer that says the passages do not cover the question is faithful; its relevance depends on whether that is true.

Question:
{question}

Passages:
{context}

Answer to grade:
{answer}

Reply with only this JSON object, where N is 1, 2 or 3 and each justification is one sentence:
{{"faithfulness": {{"score": N, "justification": "..."}}, "relevance": {{"score": N, "justification": "..."}}}}"""

# Sent after an unusable reply, so a retry at temperature 0 is a new request rather than the same one again.
JUDGE_CORRECTION_PROMPT = (
    "That reply could not be used ({problem}). Reply again with only the JSON object asked for: every criterion, "
    "a whole-number score from 1 to 3 and a one-sentence justification each."
)


def format_answer_judge_prompt(instruction: str, answer: str, reference: str | None = None) -> str:
    """The answer judge's user turn: the request, the answer to grade and, when given, the author's reference."""
    reference_block = ANSWER_JUDGE_REFERENCE_BLOCK.format(reference=reference.strip()) if reference else ""
    return ANSWER_JUDGE_PROMPT.format(
        reference_block=reference_block, instruction=instruction.strip(), answer=answer.strip()
    )


def format_rag_judge_prompt(question: str, context: str | Sequence[str], answer: str) -> str:
    """The RAG judge's user turn. `context` is the retrieved text as one string, or its passages (numbered here)."""
    if isinstance(context, str):
        passages = context.strip()
    else:
        passages = "\n\n".join(f"[{number}] {passage.strip()}" for number, passage in enumerate(context, start=1))
    return RAG_JUDGE_PROMPT.format(
        question=question.strip(), context=passages or "(no passages were retrieved)", answer=answer.strip()
    )


def format_judge_correction(problem: str) -> str:
    return JUDGE_CORRECTION_PROMPT.format(problem=problem.strip().rstrip("."))
