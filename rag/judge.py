"""Judge stage: the answer model itself asked whether a passage states a sentence.

The score is logit("Yes") - logit("No") on the first reply token (above 0: the model says the passage
states it). With the local model the judge's prompt extends the answer prompt it has just read (its
sources and its own reply), so llama.cpp keeps that prefix in its cache and reads only the passage,
the sentence and the instruction; without an answer prompt it asks on a prompt of its own. A hosted
backend is asked the same prompt and its log-probabilities of the two words are read."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

STATES = "Passage: {passage}\nStatement: {statement}\nDoes the passage state this? Reply Yes or No."
ANSWERS = "Passage: {passage}\nQuestion: {question}\nAnswer the question from the passage alone. Reply Yes or No."
NOT_READ = 0.0  # what a judge that gives no log-probabilities scores a reply that is neither word
SURE = 4.0      # the score of a plain "Yes" (or minus it, "No") from a backend that gives no log-probabilities


@dataclass
class JudgeCall:
    """What one judge call cost: the prompt tokens it read anew (the rest came from the cache)."""
    new_tokens: int
    prompt_tokens: int


@dataclass
class JudgeLog:
    calls: list[JudgeCall] = field(default_factory=list)

    def tokens(self) -> int:
        return sum(c.new_tokens for c in self.calls)


def chat(messages: list[BaseMessage]) -> list[dict]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages]


class LlamaJudge:
    """Reads logits from the llama.cpp context of a LlamaCppChat (the answer model), sharing its lock."""

    def __init__(self, model):
        self.model = model
        self.log = JudgeLog()
        self._format = None
        self._words: tuple[int, int] | None = None

    def _setup(self, llama) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{self.model.model_path} has no chat template: the judge needs one")
        special = llama._model.token_get_text
        self._format = Jinja2ChatFormatter(template=template, eos_token=special(llama.token_eos()),
                                           bos_token=special(llama.token_bos()) if llama.token_bos() != -1 else "")
        self._words = tuple(llama.tokenize(w.encode(), add_bos=False)[0] for w in ("Yes", "No"))

    def tokens(self, llama, messages: list[BaseMessage]) -> list[int]:
        rendered = self._format(messages=chat(messages))
        return llama.tokenize(rendered.prompt.encode(), add_bos=not rendered.added_special, special=True)

    def score(self, messages: list[BaseMessage]) -> float:
        import llama_cpp
        with self.model._lock:
            llama = self.model.load()
            if self._format is None:
                self._setup(llama)
            tokens = self.tokens(llama, messages)
            cached = llama.longest_token_prefix(llama._input_ids.tolist(), tokens)
            keep = min(cached, len(tokens) - 1)  # at least one token is read, for its logits
            llama.n_tokens = keep
            llama.eval(tokens[keep:])
            logits = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
            self.log.calls.append(JudgeCall(len(tokens) - keep, len(tokens)))
            yes, no = self._words
            return float(logits[yes] - logits[no])


class HostedJudge:
    """An OpenAI-compatible chat model asked for one token with its top log-probabilities."""

    def __init__(self, model):
        self.model = model
        self.log = JudgeLog()
        self._lock = threading.Lock()

    def score(self, messages: list[BaseMessage]) -> float:
        reply = self.model.bind(max_tokens=1, logprobs=True, top_logprobs=10, temperature=0).invoke(messages)
        self.log.calls.append(JudgeCall(0, 0))
        found = {"yes": -math.inf, "no": -math.inf}
        content = (reply.response_metadata.get("logprobs") or {}).get("content") or []
        for option in content[0].get("top_logprobs", []) if content else []:
            word = option["token"].strip().lower()
            if word in found:
                found[word] = max(found[word], option["logprob"])
        if math.isinf(found["yes"]) and math.isinf(found["no"]):
            said = str(reply.content).strip().lower()
            return SURE if said.startswith("yes") else -SURE if said.startswith("no") else NOT_READ
        return max(-2 * SURE, min(2 * SURE, found["yes"] - found["no"]))


def states_messages(statement: str, passage: str, context: list[BaseMessage] | None = None) -> list[BaseMessage]:
    """The judge's prompt: after the answer prompt and reply (`context`) when given, so they stay cached."""
    return list(context or []) + [HumanMessage(STATES.format(passage=passage, statement=statement))]


def answers_messages(question: str, passage: str, context: list[BaseMessage] | None = None) -> list[BaseMessage]:
    return list(context or []) + [HumanMessage(ANSWERS.format(passage=passage, question=question))]


def answer_context(messages: list[BaseMessage], reply: str) -> list[BaseMessage]:
    """The answer prompt and the model's reply: what llama.cpp holds in its cache after answering."""
    return list(messages) + [AIMessage(reply)]


def make_judge(model):
    """The judge for an answer model: its llama.cpp context, else its hosted endpoint."""
    from .llm import LlamaCppChat
    if isinstance(model, LlamaCppChat):
        return LlamaJudge(model)
    if hasattr(model, "bind") and type(model).__name__ == "ChatOpenAI":
        return HostedJudge(model)
    return None
