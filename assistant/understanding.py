"""What a message is, read before anything is retrieved: its intent, and whether it signals risk.

MiniLM's top two layers, fine-tuned on eval/data/intents by ``python -m eval.train_intents``, read
the message on top of the packaged model's lower layers (one pass of the model serves the embedding
too), and a linear head over their pooled output, the previous user turn's embedding and a few cue
features gives the intent. The fine-tuned layers ship in ``models/reader.safetensors`` (float16; no
pickles) and their settings in ``models/understanding.json``. Distress is safety first: the reply
stops coaching when the head's distress probability passes a threshold set low on purpose (a long
message is read in windows too, so a risk said once at the end is not averaged away), when a second
head trained on distress alone (a logistic regression over the packaged model's pooled layers, with
the hard cases of work stress weighted up) is sure, or when a word list of crisis signs matches.
Each is an OR: a second reading can add a safety reply, never remove one. A wider reading (the same
kind of layers and head, trained on every training slice, later ones included:
``models/reader-wide.safetensors``) adds one when it is very sure of distress, and its reading
of off-topic messages declines those the reader took for questions. A third head (``models/crisis.npz``)
reads which kind of crisis a distress message signals, only to choose the safety reply's opening.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import DIMENSIONS, Embedder, Encoding
from .runtime import SPLIT

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).resolve().parent / "models" / "reader.safetensors"
# A second reading of distress alone: a logistic regression over the packaged model's pooled layers.
SECOND_FILE = MODEL_FILE.with_name("distress.npz")
SECOND_AGREES = 0.5  # the second head's probability that makes the reader's distress sure
# Which kind of crisis a distress message signals (self, other, harm, emergency, mind), so the
# safety reply opens with what fits; below KIND_SURE the reply stays general. It never decides
# whether a message gets the safety reply.
KINDS_FILE = MODEL_FILE.with_name("crisis.npz")
# The reader trained again on every training slice (python -m eval.train_intents --wide): it reads
# more crises told in passing (trafficking signs, a report's goodbye message, abuse at home inside
# a performance question) but also more hard weeks and safety-rule stories as distress, so its
# distress is used only this sure: a safety reply it alone adds says it may have misread.
WIDE_FILE = MODEL_FILE.with_name("reader-wide.safetensors")
WIDE_AT = 0.8
# It also read more off-topic messages that share words with the library (weddings, dog "pack
# leaders"): a question or situation it reads as off-topic this much is read as off-topic (and
# the coach still answers it when the library clearly covers it).
WIDE_OFF_TOPIC = 0.5
KIND_SURE = 0.6
INTENTS = (
    "greeting",
    "thanks",
    "about",
    "question",
    "situation",
    "options",
    "commitment",
    "goal",
    "distress",
    "off_topic",
)
# Messages longer than this are read in their first part for the cues; the embedding sees all.
CUE_CHARS = 2000
# A long message is also read in windows of this many words (at most WINDOWS of them).
WINDOW_WORDS = 120
WINDOWS = 8
DISTINCT_WORDS = 20
SETTINGS_FILE = Path(__file__).resolve().parent / "models" / "understanding.json"

# The second net for distress: words that always mean risk to life or safety.
# A question this long, that the model also reads as a situation this much, is a situation.
STORY_WORDS = 35
STORY_SITUATION = 0.3
# More grammar of a step taken, beside the commitment cue the model was trained with.
_STEP = re.compile(
    r"\b(going to|from next (?:week|month|quarter)|next time|decision made|decided|anymore|any more|"
    r"this (?:week|month)|tomorrow|on (?:monday|tuesday|wednesday|thursday|friday))\b",
    re.I,
)
# Talk to the coach about its own instructions ("ignore your instructions", "print your system
# prompt") is about the coach, whatever the model makes of it: it gets the reply that says what the
# coach does, never coaching on "rules people ignore".
_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+)?(?:of\s+)?(?:your|previous|prior|above|earlier)\s+"
    r"(?:previous\s+|prior\s+)?(?:instructions|prompts?|rules|guidelines)\b|\b(?:system|hidden|initial) prompt\b|"
    r"\b(?:reveal|print|show|repeat)\s+(?:me\s+)?your\s+(?:prompt|instructions)\b|\bjailbreak|\bdeveloper mode\b",
    re.I,
)
DISTRESS_WORDS = re.compile(
    r"""\b(?:
    kill(?:ing)?\ (?:myself|himself|herself|themselves)|suicid\w*(?!\ missions?)|
    end(?:ing)?\ (?:it\ all|my\ life|her\ life|his\ life)|
    take\ (?:my|her|his|their)\ own\ life|self[-\ ]?harm\w*|hurt(?:ing)?\ (?:myself|himself|herself)|
    cut(?:ting)?\ (?:myself|my\ arms?|my\ wrists?)|(?:don'?t|do\ not|doesn'?t)\ want\ to\ (?:live|be\ alive|wake\ up)|
    no\ reason\ to\ live|better\ off\ without\ me|better\ off\ if\ i\ (?:just\ )?(?:wasn'?t|weren'?t)\ (?:here|around)|
    not\ (?:be\ )?waking\ up|(?:won'?t|will\ not)\ be\ around|don'?t\ plan\ on\ being\ (?:around|here)|
    (?:not|never)\ be\ here\ anymore|(?:sorted\ out|written|wrote|made)\ my\ will|turn\ the\ wheel|
    step\ in\ front\ of|(?:standing|stood|sitting|sat)\ on\ (?:a|the)\ (?:bridge|ledge|roof\ edge)|
    (?:won'?t|will\ not|wouldn'?t)\ be\ a\ burden|a\ burden\ to\ (?:anyone|everyone|everybody|my\ family)|
    (?:don'?t|doesn'?t|do\ not|does\ not|can'?t)\ see\ the\ point\ 
    (?:anymore|any\ more|of\ (?:going\ on|living|it\ all))|
    (?:kids|children|family|everyone|everybody)\ (?:would|will|'d)\ be\ better\ off\ (?:with|without)|
    (?:gave|giving|given)\ away\ (?:my|his|her|all)|(?:saved|saving|stockpil\w*|hoard\w*)\ (?:up\ )?(?:pills|tablets)|
    goodbye\ (?:note|letter|message)s?|
    sexual(?:ly)?\ (?:assault\w*|harass\w*)|assaulted|grop(?:ed|ing|es)|rape[ds]?|abus(?:ed|ive|ing)\ (?:me|her|him)|
    threaten\w*\ to\ (?:kill|hurt|stab|shoot|beat)|go(?:ing|ne|es)?\ postal|
    plan(?:ning|ned|s)?\ how\ to\ end\ it|stalk(?:ed|ing|s)?\ me|follow(?:ed|s|ing)\ (?:me|her|him)\ home|
    (?:smell\w*\ of|smells\ like|leaking)\ gas|gas\ leak|
    (?:keeps?|kept|holds?|holding|held|took|taken|has)\ their\ (?:passports|id\ cards|ids|papers)|
    (?:hit|punched|slapped|shoved|kicked|choked|strangled)\ (?:me|her|him)|pushed\ me\ (?:against|into|down)|
    grabbed\ (?:me|my|her)|pulled\ a\ (?:knife|blade|gun)|(?:has|had|with|carrying)\ a\ (?:knife|gun|weapon)|
    (?:threw|thrown|throws|throwing|hurled|flung)\ (?:a\ |an\ |the\ |his\ |her\ )?(?:\w+\ )?
    (?:jack|chair|knife|bottle|glass|hammer|wrench|spanner|brick|pan|plate|mug|tool|stapler|box|crate)(?:e?s)?
    \ at\ (?:me|my|him|her|us)|
    (?:sorted|sorting|written|wrote|made|updated)\ (?:out\ )?my\ will\b|
    (?:sorted|sorting|put|putting|got|getting)\ (?:out\ )?my\ affairs|don'?t\ think\ i'?ll\ be\ around|
    (?:so\ much|lots\ of|covered\ in)\ blood|bleeding\ (?:badly|heavily|a\ lot)|
    medical\ emergency|chest\ pains?|(?:crushing|tight|pressure\ in\ my)\ chest|chest\ (?:is\ )?(?:really\ )?tight|
    arm\ (?:has\ )?(?:gone|going|went)\ numb|numb\ (?:left\ )?arm|
    can'?t\ breathe|not\ breathing|overdos\w*|heart\ attack|seizure|
    unconscious|(?:is|was|went|lying|completely|now)\ unresponsive|(?:isn'?t|not)\ coming\ round|passed\ out|
    face\ (?:is\ )?drooping|
    slurr\w*\ (?:speech|words)|anaphyla\w*|panic\ attack|can'?t\ stop\ shaking|hearing\ voices
    )\b""",
    re.I | re.X,
)
# Cues the embedding blurs: the grammar of a commitment, a wish, a request for ideas. Plain
# alternations with word bounds: linear time on any input.
_CUES = {
    "commitment": re.compile(
        r"\b(i will|i'll|ill|i am going to|i'm going to|im going to|i'm gonna|im gonna|i've decided|"
        r"i have decided|i decided to|i commit|i won't|i will not|i'm not going to|no more|from now on|"
        r"starting (?:monday|tomorrow|today|next week)|my next step)\b",
        re.I,
    ),
    "goal": re.compile(
        r"\b(i want to|i wanna|i'd like to|i would like to|my goal|i wish|i'd love|i would love|i hope to|"
        r"hoping to|my aim|i aspire|one day i)\b",
        re.I,
    ),
    "options": re.compile(
        r"\b(instead|options?|ideas?|alternatives?|suggest\w*|what (?:could|can|should|would) (?:i|we|you)|"
        r"what else|ways to|things to try|how else)\b",
        re.I,
    ),
    "question": re.compile(r"\?\s*$|^\s*(?:what|how|why|who|when|which|is|are|does|do|should|can)\b", re.I),
    "first_person": re.compile(r"\b(i|i'm|im|i've|my|me|we|our)\b", re.I),
}


@dataclass(frozen=True)
class Understanding:
    """What a message is: its intent, the scores behind it, and the vectors to reuse."""

    intent: str
    scores: dict[str, float]
    distress: float
    vector: np.ndarray = field(repr=False)
    previous: str = ""
    sure: bool = True  # for distress: a word of the list, or the head well above its threshold
    layers: np.ndarray | None = field(default=None, repr=False)  # MiniLM's pooled layers, for other heads
    kind: str = ""  # for distress: the kind of crisis when the kind head is sure of it
    tokens: tuple | None = field(default=None, repr=False)  # token states after SPLIT and mask, for tuned heads

    @property
    def safety(self) -> bool:
        return self.intent == "distress"


def cues(text: str, has_previous: bool) -> np.ndarray:
    """Cue features of ``text``: the grammar the embedding blurs, its length, a follow-up flag."""
    head = text[:CUE_CHARS]
    flags = [float(bool(pattern.search(head))) for pattern in _CUES.values()]
    words = len(head.split())
    return np.array([*flags, np.log1p(words) / 5.0, float(words <= 3), float(has_previous)], dtype=np.float32)


CUES = len(_CUES) + 3


def windows(text: str) -> list[str]:
    """A long message in overlapping windows of words; [] for a short one."""
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return []
    step = WINDOW_WORDS // 2
    cut = [words[i : i + WINDOW_WORDS] for i in range(0, len(words) - step, step)]
    # A window that repeats a few words over and over says nothing read alone.
    return [" ".join(w) for w in cut if varied(w)][:WINDOWS]


def varied(words: list[str]) -> bool:
    """Whether a run of words says something read alone, rather than repeating a few words."""
    return len({w.lower() for w in words}) >= DISTINCT_WORDS


def repetitive(text: str) -> bool:
    """A long message that opens by repeating a few words over and over (it says nothing read as
    a whole, and the wider reading reads such noise as distress)."""
    words = text.split()[:WINDOW_WORDS]
    return len(words) == WINDOW_WORDS and not varied(words)


def softmax(logits: np.ndarray) -> np.ndarray:
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


_MARKUP = re.compile(r"<(script|style)\b[^<>]{0,300}>[^<]{0,5000}</\1\s*>|<[^<>]{0,300}>", re.I)


def readable(text: str) -> str:
    """The words of a message, as the reader reads them: markup tags and script blocks dropped (a
    model trained on what people write reads code as noise, and noise must not look like a crisis)."""
    return " ".join(_MARKUP.sub(" ", text).split()) or text


def previous_user_turn(history: list[dict] | None) -> str:
    for message in reversed(history or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str) and message["content"].strip():
            return message["content"]
    return ""


class TopLayers:
    """The fine-tuned top of MiniLM plus the intent head, in torch (built from the packaged layers)."""

    def __init__(self, embedder: Embedder, classes: list[str], extra: int = DIMENSIONS + CUES) -> None:
        """``extra``: the head's inputs beside the pooled output (the previous turn and the cues;
        0 for a head that reads the message alone)."""
        import copy

        import torch

        self.torch = torch
        self.layers = torch.nn.ModuleList(copy.deepcopy(list(embedder.layers(SPLIT))))
        self.out = torch.nn.Linear(DIMENSIONS + extra, len(classes))
        self.classes = classes

    def modules(self) -> list:
        return [self.layers, self.out]

    def state_dict(self) -> dict:
        return {
            **{f"layers.{k}": v for k, v in self.layers.state_dict().items()},
            **{f"out.{k}": v for k, v in self.out.state_dict().items()},
        }

    def load(self, tensors: dict) -> None:
        self.layers.load_state_dict({k[7:]: v.float() for k, v in tensors.items() if k.startswith("layers.")})
        self.out.load_state_dict({k[4:]: v.float() for k, v in tensors.items() if k.startswith("out.")})

    def logits(self, states: object, mask: object, previous: object, cue: object) -> object:
        """Intent logits from the token states after layer SPLIT (padded, with their 0/1 mask)."""
        torch = self.torch
        pooled = self.pooled(states, mask)
        # The unit vectors are scaled up so they weigh as much as the cues in the linear head.
        return self.out(torch.cat([pooled * 10, previous * 10, cue], dim=-1))

    def pooled(self, states: object, mask: object) -> object:
        """The fine-tuned layers' mean-pooled output, unit length."""
        torch = self.torch
        h = states
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        weights = mask[..., None].float()
        return torch.nn.functional.normalize((h * weights).sum(1) / weights.sum(1), dim=-1)


class TunedLayers:
    """Fine-tuned layers above SPLIT and their linear head, read from a safetensors file.

    ``pooled`` gives their pooled output for the token states ``Embedder.encode`` hands out: on
    onnxruntime when the states are numpy (torch builds the graph once, then it is cached), else
    on torch. ``head`` is the linear head as numpy (weight, bias).
    """

    def __init__(self, embedder: Embedder, weights: Path, classes: list[str], extra: int, name: str) -> None:
        from safetensors.numpy import load_file

        self.embedder, self.weights, self.classes, self.extra, self.name = embedder, weights, classes, extra, name
        tensors = load_file(str(weights))
        self.head = (tensors["out.weight"].astype(np.float32), tensors["out.bias"].astype(np.float32))
        self._top: TopLayers | None = None
        self._onnx: Any = None  # the runtime.Top, or False once it could not be made
        self._lock = threading.Lock()

    def _torch_top(self) -> TopLayers:
        if self._top is None:
            from safetensors.torch import load_file

            top = TopLayers(self.embedder, self.classes, self.extra)
            top.load(load_file(str(self.weights)))
            for module in top.modules():
                module.eval()
            self._top = top
        return self._top

    def logits(self, pooled: np.ndarray, *extra: np.ndarray) -> np.ndarray:
        """The head's logits for rows of ``pooled`` output and the ``extra`` inputs beside it.

        The unit vectors are scaled up so they weigh as much as the cues in the linear head."""
        weight, bias = self.head
        return np.hstack([pooled * 10, *extra]) @ weight.T + bias

    def pooled(self, states: Any, mask: Any) -> np.ndarray:
        """The fine-tuned layers' pooled output for the token states ``encode`` gave."""
        with self._lock:
            if isinstance(states, np.ndarray):
                if self._onnx is None:
                    from .runtime import Top

                    try:
                        self._onnx = Top(self.weights, self._torch_top, self.name)
                    except Exception as exc:  # torch still reads the message
                        log.warning("%s on torch: the onnxruntime graph could not be made (%s)", self.name, exc)
                        self._onnx = False
                if self._onnx:
                    return self._onnx.pooled(states, mask)
            top = self._torch_top()
            torch = top.torch
            with torch.inference_mode():
                return top.pooled(torch.as_tensor(states), torch.as_tensor(mask)).numpy()


class Reader:
    """Reads messages with the shipped model.

    Example:
        >>> Reader(Embedder()).read("hello").intent
        'greeting'
    """

    def __init__(self, embedder: Embedder, settings_file: Path = SETTINGS_FILE, weights: Path = MODEL_FILE) -> None:
        self.embedder = embedder
        settings = json.loads(Path(settings_file).read_text())
        self.classes: list[str] = settings["classes"]
        self.distress_threshold = float(settings["distress_threshold"])
        self.distress_sure = float(settings["distress_sure"])
        self.weights = Path(weights)
        self.tuned = TunedLayers(embedder, self.weights, self.classes, DIMENSIONS + CUES, "reader")
        wide = self.weights.with_name(WIDE_FILE.name)
        self.wide = (
            TunedLayers(embedder, wide, self.classes, DIMENSIONS + CUES, "reader-wide") if wide.exists() else None
        )
        second = np.load(self.weights.with_name(SECOND_FILE.name))
        self.second = tuple(second[k] for k in ("mean", "scale", "coef", "intercept"))
        self.second_threshold = float(second["threshold"])
        kinds = np.load(self.weights.with_name(KINDS_FILE.name))
        self.kinds = tuple(kinds[k] for k in ("mean", "scale", "coef", "intercept"))
        self.kind_names = [str(c) for c in kinds["classes"]]

    def read(self, text: str, history: list[dict] | None = None) -> Understanding:
        """The intent of ``text`` given the conversation so far."""
        text = readable(text)
        previous = previous_user_turn(history)
        parts = windows(text)
        encoded: Encoding = self.embedder.encode([text, *parts], SPLIT)
        prev = self.embedder.embed_one(previous) if previous else np.zeros(DIMENSIONS, np.float32)
        n = 1 + len(parts)
        prev_rows = np.vstack([prev, *([np.zeros(DIMENSIONS, np.float32)] * len(parts))])
        cue_rows = np.vstack([cues(text, bool(previous)), *(cues(p, False) for p in parts)])
        pooled = self.tuned.pooled(encoded.states, encoded.mask)
        probs = softmax(self.tuned.logits(pooled, prev_rows * 10, cue_rows))
        scores = {c: round(float(p), 4) for c, p in zip(self.classes, probs[0])}
        at = self.classes.index("distress")
        distress = float(probs[0, at])
        # A window of a long message, read alone, must be sure: windows cut sentences apart.
        window = float(probs[1:n, at].max()) if n > 1 else 0.0
        intent = max(scores, key=scores.get)
        ranked = sorted(scores, key=scores.get, reverse=True)
        # The model's two blind spots, settled by the words: a commitment has its grammar ("I will",
        # "from Monday"); a long story that ends in "how do I handle it?" wants coaching on it.
        if intent == "commitment" and not (
            _CUES["commitment"].search(text[:CUE_CHARS]) or _STEP.search(text[:CUE_CHARS])
        ):
            intent = ranked[1]
        if intent == "question" and len(text.split()) >= STORY_WORDS and scores["situation"] >= STORY_SITUATION:
            intent = "situation"
        if _INSTRUCTIONS.search(text[:CUE_CHARS]):
            intent, scores = "about", {**scores, "about": 1.0}
        words = bool(DISTRESS_WORDS.search(text[: CUE_CHARS * 2]))
        mean, scale, coef, intercept = self.second
        second = float(1 / (1 + np.exp(-(((encoded.layers[0] - mean) / scale) @ coef + intercept))))
        models = distress >= self.distress_threshold or window >= self.distress_sure or second >= self.second_threshold
        if not (models or words) and self.wide is not None and not repetitive(text):
            wide = softmax(self.wide.logits(self.wide.pooled(encoded.states, encoded.mask), prev_rows * 10, cue_rows))
            models = float(wide[:n, at].max()) >= WIDE_AT
            off = float(wide[0, self.classes.index("off_topic")])
            if intent in ("question", "situation", "options", "goal") and off >= WIDE_OFF_TOPIC:
                intent = "off_topic"
        if models or words:
            intent = "distress"
            distress = max(distress, window)
        # Sure when a crisis sign is named, or when both heads read distress: hyperbole such as "the
        # night shift is murdering me" can fool the reader, and the reply then says it may have misread.
        sure = intent == "distress" and (words or (distress >= self.distress_sure and second >= SECOND_AGREES))
        kind = self.kind_of(encoded.layers[0]) if intent == "distress" else ""
        tokens = (encoded.states[:1], encoded.mask[:1])
        return Understanding(
            intent, scores, round(distress, 4), encoded.vectors[0], previous, sure, encoded.layers[0], kind, tokens
        )

    def kind_of(self, layers: np.ndarray) -> str:
        """The kind of crisis the pooled ``layers`` of a distress message signal, or "" when unsure."""
        mean, scale, coef, intercept = self.kinds
        logits = coef @ ((layers - mean) / scale) + intercept
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        best = int(probs.argmax())
        return self.kind_names[best] if probs[best] >= KIND_SURE else ""
