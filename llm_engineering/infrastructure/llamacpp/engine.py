"""GGUF generation on llama.cpp through llama-cpp-python's `Llama`, for the local OpenAI-compatible server.

A `GGUFModel` holds `parallel` slots, each a llama.cpp context on the same file (the weights are memory-mapped).
A request waits in line for a free slot, giving up if its client leaves first; it then generates in its own
thread and checks its cancel event after every token, so a client that leaves stops the work at the next
token. Busy slots share the CPU threads (each gets total // busy), and with automatic threads the cores other
processes keep busy are left to them (`cpu.py`): llama.cpp's workers spin on barriers, so more busy threads
than free cores would slow every slot down.

Prompts use the project's instruction chat template (`domain.prompts`), the layout the twin was trained on.
`llama_cpp` is imported inside functions: importing this module stays light.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from loguru import logger

from llm_engineering.domain.prompts import instruction_chat_template
from llm_engineering.infrastructure.errors import PromptTooLongError
from llm_engineering.infrastructure.llamacpp.cpu import OtherLoad, free_cores, physical_cores


@dataclass(frozen=True)
class EngineConfig:
    """How models are loaded: tokens of context per slot, slots per model, CPU threads in all (0: automatic,
    the physical cores this process may use less those other processes keep busy, measured while it runs),
    prompt tokens evaluated per batch."""

    context_size: int = 8192
    parallel: int = 1
    threads: int = 0
    batch_size: int = 512

    def total_threads(self) -> int:
        return self.threads if self.threads > 0 else physical_cores()

    def thread_share(self) -> ThreadShare:
        """The threads the slots share; automatic threads also give way to other processes' load."""
        return ThreadShare(self.total_threads(), others_busy=None if self.threads > 0 else OtherLoad().busy_cpus)


@dataclass(frozen=True)
class Sampling:
    """One request's generation parameters, in llama.cpp's terms."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: off, as with OpenAI (llama-cpp-python's own default is 40)
    min_p: float = 0.0  # off, as with OpenAI (llama-cpp-python's own default is 0.05)
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    min_tokens: int = 0  # end-of-text tokens are masked until this many tokens are generated
    seed: int | None = None
    json_object: bool = False


@dataclass(frozen=True)
class Outcome:
    """How a generation ended: `stop` (EOS or a stop sequence), `length` (max_tokens or the context) or
    `cancelled` (the client left), with token counts and seconds to the first token and in all."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float | None
    seconds: float


class ThreadShare:
    """The CPU threads split between the slots generating at once, each getting at least one. With
    `others_busy` (CPUs other processes use now), only the cores they leave free are shared."""

    def __init__(self, total: int, others_busy: Callable[[], float] | None = None):
        self.total = max(1, total)
        self.others_busy = others_busy
        self._busy = 0
        self._lock = threading.Lock()

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    def share(self) -> int:
        available = self.total if self.others_busy is None else free_cores(self.total, self.others_busy())
        return max(1, available // max(1, self._busy))


class Slot:
    """One llama.cpp context; used by one request at a time."""

    def __init__(self, llm: Any, index: int):
        self.llm = llm
        self.index = index
        self._threads: int | None = None

    def use_threads(self, threads: int) -> None:
        if threads != self._threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self.llm.ctx, threads, threads)
            self._threads = threads


@dataclass
class _Counter:
    first_at: float | None = None
    started: float = field(default_factory=time.perf_counter)


class GGUFModel:
    """A GGUF file loaded into `config.parallel` slots, served as `model_id`."""

    def __init__(self, model_id: str, path: Path, config: EngineConfig, share: ThreadShare):
        from llama_cpp import Llama

        self.model_id = model_id
        self.path = path
        self.config = config
        self.share = share
        started = time.perf_counter()
        self.slots = [
            Slot(
                Llama(
                    model_path=str(path),
                    n_ctx=config.context_size,
                    n_batch=config.batch_size,
                    n_threads=share.total,
                    n_threads_batch=share.total,
                    verbose=False,
                ),
                index,
            )
            for index in range(max(1, config.parallel))
        ]
        first = self.slots[0].llm
        self.context_size = first.n_ctx()
        self.bos_id, self.eos_id = first.token_bos(), first.token_eos()
        # Every token that ends a turn (Gemma: <eos> and <end_of_turn>), for min_tokens.
        self.end_ids = sorted({self.eos_id, *self._end_of_turn(first)})
        self.adds_bos = self._adds_bos(first)
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = environment.from_string(instruction_chat_template(bos=self.adds_bos))
        self._special = {
            "bos_token": self._piece(first, self.bos_id),
            "eos_token": self._piece(first, self.eos_id),
        }
        self._free: asyncio.Queue[Slot] | None = None
        self._json_grammar: Any = None
        logger.info(
            "Loaded {} ({}) in {} slot(s) of {} tokens in {:.1f}s",
            model_id,
            path.name,
            len(self.slots),
            self.context_size,
            time.perf_counter() - started,
        )

    # --- Prompts ------------------------------------------------------------------------------
    def chat_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The tokens of `messages` rendered with the instruction chat template (it writes BOS itself)."""
        text = self._template.render(messages=messages, add_generation_prompt=True, **self._special)
        return self.slots[0].llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The tokens of a raw prompt as training encoded it: BOS first when the model adds one, never twice."""
        tokens = self.slots[0].llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        while len(tokens) > 1 and tokens[0] == tokens[1] == self.bos_id:
            tokens = tokens[1:]
        return tokens

    def check_fits(self, tokens: list[int]) -> None:
        """Raise PromptTooLongError unless `tokens` leave room for at least one generated token."""
        if len(tokens) >= self.context_size:
            raise PromptTooLongError(
                f"The prompt has {len(tokens)} tokens; this server's context is {self.context_size} "
                "(LOCAL_LLM_CONTEXT_SIZE)."
            )

    # --- Slots (called on the event loop) -------------------------------------------------------
    async def acquire(self, gone: asyncio.Event) -> Slot | None:
        """A free slot, waiting in line for one; None when `gone` is set first (the client left)."""
        if self._free is None:
            self._free = asyncio.Queue()
            for slot in self.slots:
                self._free.put_nowait(slot)
        if gone.is_set():
            return None
        getter = asyncio.ensure_future(self._free.get())
        waiter = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not getter.done():
                getter.cancel()  # Queue.get leaves the slot in the queue when cancelled
        if getter.cancelled() or not getter.done():
            return None
        slot = getter.result()
        if gone.is_set():
            self.release(slot)
            return None
        return slot

    def release(self, slot: Slot) -> None:
        assert self._free is not None
        self._free.put_nowait(slot)

    def busy_slots(self) -> int:
        return len(self.slots) - (self._free.qsize() if self._free is not None else 0)

    # --- Generation (called in a worker thread) -------------------------------------------------
    def generate(
        self,
        slot: Slot,
        tokens: list[int],
        sampling: Sampling,
        cancel: threading.Event,
        emit: Callable[[str], None],
    ) -> Outcome:
        """Generate from `tokens` in `slot`, passing each piece of text to `emit` as it is final (stop
        sequences are cut, text that may begin one is held back). Returns once EOS, a stop sequence,
        `max_tokens` or `cancel` ends it."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        counter = _Counter()
        no_end_before = len(tokens) + sampling.min_tokens
        end_ids = [token for token in self.end_ids if token >= 0]

        def hold_the_end(ids: Any, scores: Any) -> Any:
            # A small model may stop after copying a heading; the card's min_new_tokens keeps it writing.
            if len(ids) < no_end_before:
                scores[end_ids] = -float("inf")
            return scores

        def after_each_token(_ids: Any, _logits: Any) -> bool:
            if counter.first_at is None:
                counter.first_at = time.perf_counter()
            slot.use_threads(self.share.share())  # another slot may have started or finished
            return cancel.is_set()

        max_tokens = max(1, min(sampling.max_tokens, self.context_size - len(tokens)))
        finish_reason = "length"
        with self.share.busy():
            slot.use_threads(self.share.share())
            stream = slot.llm.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                min_p=sampling.min_p,
                repeat_penalty=sampling.repeat_penalty,
                presence_penalty=sampling.presence_penalty,
                stop=list(sampling.stop),
                seed=sampling.seed,
                grammar=self._grammar() if sampling.json_object else None,
                logits_processor=LogitsProcessorList([hold_the_end]) if sampling.min_tokens and end_ids else None,
                stopping_criteria=StoppingCriteriaList([after_each_token]),
                stream=True,
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    if choice.get("text"):
                        emit(choice["text"])
                    finish_reason = choice.get("finish_reason") or finish_reason
                    if cancel.is_set():
                        break
            finally:
                stream.close()
        if cancel.is_set():
            finish_reason = "cancelled"
        # The last sampled token (EOS, or the one that completed a stop sequence) is never evaluated.
        generated = slot.llm.n_tokens + 1 - len(tokens) if counter.first_at is not None else 0
        outcome = Outcome(
            finish_reason=finish_reason,
            prompt_tokens=len(tokens),
            completion_tokens=max(0, generated),
            first_token_s=None if counter.first_at is None else counter.first_at - counter.started,
            seconds=time.perf_counter() - counter.started,
        )
        logger.info(
            "{} slot {}: {} prompt + {} generated tokens in {:.2f}s ({:.1f} tokens/s), {}",
            self.model_id,
            slot.index,
            outcome.prompt_tokens,
            outcome.completion_tokens,
            outcome.seconds,
            outcome.completion_tokens / outcome.seconds if outcome.seconds else 0.0,
            outcome.finish_reason,
        )
        return outcome

    def _grammar(self) -> Any:
        if self._json_grammar is None:
            from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

            self._json_grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        return self._json_grammar

    def close(self) -> None:
        for slot in self.slots:
            slot.llm.close()

    @staticmethod
    def _end_of_turn(llm: Any) -> list[int]:
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        return [token for token in (llama_cpp.llama_vocab_eot(vocab),) if token >= 0]

    @staticmethod
    def _adds_bos(llm: Any) -> bool:
        ids = llm.tokenize(b"x", add_bos=True, special=False)
        return bool(ids) and ids[0] == llm.token_bos()

    @staticmethod
    def _piece(llm: Any, token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""
