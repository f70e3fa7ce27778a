"""What to say to a message, by its intent: the policy between reading a message and writing a reply.

A question or a goal gets passages to answer from. A situation gets a reflection in the coach's
words, the managing/leading read with its reason, options from the nearest playbook card and
one of its questions. A request for options gets the options of the situation under
discussion; a commitment is acknowledged with what it moves toward and what to watch.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from .answer.context import Context, Quote, Section, Slot
from .chunking import stable_id
from .diagnosis import FACET_DESCRIPTIONS, Diagnoser
from .embeddings import Embedder
from .library import Library
from .playbook import Card, Line, Match
from .questions import (
    COUNTERPART,
    GOAL_QUESTION,
    OPTIONS_QUESTION,
    SIDE_OF,
    TOWARD,
    WAY_FORWARD_QUESTION,
)
from .replies import CONVERSATIONAL, MISREAD, OUT_OF_SCOPE, SAFETY
from .settings import Settings
from .types import Diagnosis, Facet, Passage, Reply, Sentence
from .understanding import Understanding

_REFERRING = re.compile(
    r"\b(it|that|this|those|these|there|he|she|they|him|her|them|his|their|instead|more|else|example)\b", re.I
)
# How many earlier user turns a follow-up carries into its query.
CONDENSE_WINDOW = 2
# How sure a card match must be to be used, and to be named back to the person ("It sounds
# like..."): the matcher's probability, or a cosine when the library's cards are not the ones
# the matcher was trained on.
CARD_FLOOR = {True: 0.05, False: 0.45}
CARD_NAMED = {True: 0.3, False: 0.55}
CARD_WEIGHT = 0.5
# A library answer ends by turning the question to the person's own team (a stock question
# picked by similarity read as unrelated to the blind reader).
ASK_ABOUT_THEIR_TEAM = "Where does this show up in your own team right now?"
# A card option this close to a commitment is the move the person chose.
SAME_MOVE = 0.5
OPTIONS_SHOWN = 3
# A passage this close overrules an off-topic reading (off-topic test and holdout messages
# reached 0.48 at most; "What is the GROW model?" 0.53).
LIBRARY_KNOWS = 0.52
# How much the facet a situation lacks weighs, beside the situation itself, in choosing options.
LACKING_WEIGHT = 0.3
VERB = {"management": "managing", "leadership": "leading"}


class Coaching:
    """Turns a read message into a Context for a backend, or a Reply that needs no library."""

    def __init__(self, settings: Settings, library: Library, embedder: Embedder, diagnoser: Diagnoser) -> None:
        self.settings = settings
        self.library = library
        self.embedder = embedder
        self.diagnoser = diagnoser
        self._facets: dict[str, np.ndarray] | None = None

    def plan(
        self,
        text: str,
        read: Understanding,
        history: list[dict],
        notes: list[str],
        owner: str = "",
        top_k: int | None = None,
        diagnose: bool | None = None,
    ) -> Context | Reply:
        intent = read.intent
        if intent == "distress":
            words = SAFETY if read.sure else f"{SAFETY}\n\n{MISREAD}"
            return Reply(words, [], False, query=text, notes=notes, safety=True, intent=intent)
        if intent in ("off_topic", "about") and self._library_knows(text, read, owner):
            read = replace(read, intent="question")
            intent = read.intent
        if intent in CONVERSATIONAL:
            return Reply(CONVERSATIONAL[intent], [], intent != "off_topic", query=text, notes=notes, intent=intent)
        wanted = self.settings.diagnose if diagnose is None else diagnose
        if intent in ("situation", "options", "commitment"):
            planned = self._coach(text, read, history, notes, wanted)
            if planned is not None:
                return planned
        return self._answer(text, read, history, notes, owner, top_k, wanted)

    def _library_knows(self, text: str, read: Understanding, owner: str) -> bool:
        """Whether the library answers a message read as off-topic (or about the coach) clearly enough to overrule the
        reader ("What is the GROW model?" shares no words with how people ask about their teams)."""
        found = self.library.retriever.retrieve(text, vector=read.vector, owner=owner)
        return found.best_similarity >= LIBRARY_KNOWS

    # ---- questions and goals: answer from the library ------------------------------------
    def _answer(
        self,
        text: str,
        read: Understanding,
        history: list[dict],
        notes: list[str],
        owner: str,
        top_k: int | None,
        wanted: bool,
    ) -> Context | Reply:
        query = condense(text, history)
        retriever = self.library.retriever
        found = retriever.retrieve(query, top_k=top_k, vector=read.vector if query == text else None, owner=owner)
        covered = found.in_scope and bool(found.passages)
        if not covered and read.intent != "situation":
            return Reply(OUT_OF_SCOPE, [], False, query=query, notes=notes, intent=read.intent)
        sections, question, diagnosis = [], ASK_ABOUT_THEIR_TEAM, None
        if read.intent == "goal":
            question = GOAL_QUESTION
        elif read.intent == "situation" and wanted:  # no playbook card fits: the read, then the library
            diagnosis = self.diagnoser.diagnose(text, read.vector, layers=read.layers, force=True)
            if diagnosis is not None:
                sections = [Section(read_line(diagnosis).rstrip(":") + ".")]
                question = TOWARD[COUNTERPART[diagnosis.drivers()[0].name]]
        chunk_ids = {p.chunk.chunk_id for p in found.passages}
        return Context(
            question=text,
            query=query,
            slots=[Slot("", found.passages, found.vector, quotes=3)] if covered else [],
            sentences=self.library.index.sentences_of(chunk_ids),
            history=history,
            diagnosis=diagnosis,
            notes=notes,
            coaching_question=question,
            intent=read.intent,
            sections=sections,
        )

    # ---- situations, options and commitments: coach from the playbook --------------------
    def _coach(
        self, text: str, read: Understanding, history: list[dict], notes: list[str], wanted: bool
    ) -> Context | None:
        intent = read.intent
        # Options are about the situation under discussion; a commitment is read with it too.
        subject = f"{read.previous} {text}" if read.previous and intent in ("options", "commitment") else text
        if subject == text:
            vector, layers = read.vector, read.layers
        else:
            encoded = self.embedder.encode([subject])
            vector, layers = encoded.vectors[0], encoded.layers[0]
        playbook = self.library.playbook
        matches = [m for m in playbook.match(vector, layers, 2) if m.score >= CARD_FLOOR[playbook.learned]]
        diagnosis = None
        if wanted and intent in ("situation", "commitment"):
            diagnosis = self.diagnoser.diagnose(
                text, read.vector, layers=read.layers, commitment=intent == "commitment", force=True
            )
        if not matches and intent != "commitment":
            return None
        shown = " ".join(str(m.get("content", "")) for m in history if m.get("role") == "assistant")
        if intent == "situation":
            if diagnosis is not None:
                diagnosis = with_card(diagnosis, matches[0], CARD_NAMED[playbook.learned])
            sections, question = self._situation(matches[0], diagnosis, vector, shown)
        elif intent == "options":
            sections, question = self._options(matches, vector, shown), OPTIONS_QUESTION
        else:
            sections, question = self._commitment(matches, diagnosis, read.vector, text), WAY_FORWARD_QUESTION
            notes = ["Noted your commitment: next time, tell me how it went.", *notes]
        if not any(s.quotes for s in sections) and intent != "commitment":
            return None
        return Context(
            question=text,
            query=subject,
            slots=[],
            sentences=[],
            history=history,
            diagnosis=diagnosis,
            notes=notes,
            coaching_question=question,
            intent=intent,
            sections=sections,
        )

    def _situation(
        self, match: Match, diagnosis: Diagnosis | None, vector: np.ndarray, shown: str
    ) -> tuple[list[Section], str]:
        card = match.card
        named = match.score >= CARD_NAMED[self.library.playbook.learned]
        lead = f"It sounds like {lower_first(card.title).rstrip('.')}." if named else ""
        lacking = card.lacking
        reason: list[Quote] = []
        if diagnosis is not None:
            drivers = diagnosis.drivers()
            lead = f"{lead} {read_line(diagnosis)}".strip()
            aim = self._facet_vectors()[drivers[0].name] + vector
            reason = self._best_lines(card, card.reading, aim, 1)
            if not reason:
                lead = lead.rstrip(":") + "."
            lacking = card.lacking or COUNTERPART[drivers[0].name]
        options = self._ranked_options(card, vector, lacking, shown)[:OPTIONS_SHOWN]
        sections = [
            Section(lead, reason),
            Section(
                f"A few things you could try, toward more {lacking}:" if lacking else "A few things to try:",
                options,
                bullets=True,
            ),
        ]
        return sections, self._card_question(card, shown) or TOWARD.get(lacking, OPTIONS_QUESTION)

    def _options(self, matches: list[Match], vector: np.ndarray, shown: str) -> list[Section]:
        quotes: list[Quote] = []
        for match in matches:
            quotes += self._ranked_options(match.card, vector, match.card.lacking, shown)
        # What was not shown yet comes first; then the rest, so the list is never empty.
        fresh = [q for q in quotes if q.sentence.text[:60] not in shown]
        chosen = (fresh + [q for q in quotes if q not in fresh])[:OPTIONS_SHOWN]
        title = lower_first(matches[0].card.title)
        return [Section(f"Here are some options for when {title}:", chosen, bullets=True)]

    def _commitment(
        self, matches: list[Match], diagnosis: Diagnosis | None, vector: np.ndarray, text: str
    ) -> list[Section]:
        lead = "That's a concrete step, and naming it makes it more likely to happen."
        if diagnosis is not None and diagnosis.lean in VERB:
            facet = diagnosis.drivers(1)[0].name
            lead = f"That's a concrete step, and it moves you toward **{VERB[diagnosis.lean]}**: more {facet}."
        sections = [Section(lead)]
        # A card only when it is clearly the situation the step answers: a wrong card's pitfall misleads.
        if not matches or matches[0].score < CARD_NAMED[self.library.playbook.learned]:
            return sections
        card = matches[0].card
        best = self._best_lines(card, [o.line for o in card.options], vector, 1)
        if best and best[0].passage.similarity >= SAME_MOVE:
            sections.append(Section("It matches a move that tends to work:", best))
        watch = self._best_lines(card, card.watch, vector, 1)
        if watch:
            sections.append(Section("One thing to watch:", watch))
        return sections

    # ---- pieces ----------------------------------------------------------------------------
    def _ranked_options(self, card: Card, vector: np.ndarray, lacking: str, shown: str) -> list[Quote]:
        lines = [o.line for o in card.options]
        vectors = self.library.playbook.line_vectors(card, lines)
        aim = vector + LACKING_WEIGHT * self._facet_vectors().get(lacking, np.zeros_like(vector))
        order = np.argsort(-(vectors @ aim))
        quotes = [self._quote(card, lines[i], float(vectors[i] @ vector)) for i in order]
        return [q for q in quotes if q is not None]

    def _best_lines(self, card: Card, lines: list[Line], aim: np.ndarray, n: int) -> list[Quote]:
        if not lines:
            return []
        sims = self.library.playbook.line_vectors(card, lines) @ aim
        quotes = [self._quote(card, lines[i], float(sims[i])) for i in np.argsort(-sims)[:n]]
        return [q for q in quotes if q is not None]

    def _quote(self, card: Card, line: Line, similarity: float) -> Quote | None:
        chunk = self.library.retriever.chunk_at(card.doc_id, line.start, line.end)
        if chunk is None:
            return None
        sentence = Sentence(
            stable_id(chunk.chunk_id, str(line.start)), chunk.chunk_id, card.doc_id, line.text, line.start, line.end
        )
        return Quote(Passage(chunk, similarity, similarity), sentence)

    def _card_question(self, card: Card, shown: str) -> str:
        questions = [second_person(q) for q in card.questions]
        fresh = [q for q in questions if q not in shown]
        return fresh[0] if fresh else ""

    def _facet_vectors(self) -> dict[str, np.ndarray]:
        if self._facets is None:
            self._facets = dict(zip(FACET_DESCRIPTIONS, self.embedder.embed(list(FACET_DESCRIPTIONS.values()))))
        return self._facets


def with_card(diagnosis: Diagnosis, match: Match, sure: float) -> Diagnosis:
    """The diagnosis with the matched card's reading as a second opinion, weighted by how sure the
    match is (up to half). The model reads what the person did; the card, written for that kind
    of situation, says which facets it shows, which the model misses in long stories about others."""
    weight = CARD_WEIGHT * min(1.0, match.score / sure)
    shown = set(match.card.facets)
    if not shown or weight <= 0:
        return diagnosis
    facets = sorted(
        (
            Facet(f.name, f.side, round((1 - weight) * f.score + weight * (f.name in shown), 4))
            for f in diagnosis.facets
        ),
        key=lambda f: f.score,
        reverse=True,
    )
    card_share = sum(SIDE_OF[f] == "management" for f in shown) / len(shown)
    management = round((1 - weight) * diagnosis.management + weight * card_share, 4)
    lean = "management" if management > 0.6 else "leadership" if management < 0.4 else "balanced"
    return Diagnosis(lean, management, round(1 - management, 4), facets, diagnosis.evidence)


def lower_first(title: str) -> str:
    """A card's title inside a sentence ("You redo..." -> "you redo...")."""
    return title[:1].lower() + title[1:]


def read_line(diagnosis: Diagnosis) -> str:
    """The managing/leading read in a line, ending with a colon for its reason."""
    drivers = _and(f.name for f in diagnosis.drivers())
    if diagnosis.lean == "balanced":
        return f"What you describe mixes managing and leading, mostly {drivers}:"
    return f"That leans to **{VERB[diagnosis.lean]}**, mostly {drivers}:"


def _and(names: object) -> str:
    items = list(names)  # type: ignore[call-overload]
    return " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " and " + items[-1]


_FIRST_PERSON = re.compile(r"\b(am I|I am|I'm|I've|I'd|I'll|I|me|my|mine|myself)\b")
_SECOND = {
    "am I": "are you",
    "I am": "you are",
    "I'm": "you're",
    "I've": "you've",
    "I'd": "you'd",
    "I'll": "you'll",
    "I": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
}


def second_person(question: str) -> str:
    """A card's question to oneself ("What would my team need from me?") as the coach asks it."""

    def swap(m: re.Match) -> str:
        word = _SECOND[m.group(1)]
        return word[0].upper() + word[1:] if m.start() == 0 else word

    return _FIRST_PERSON.sub(swap, question)


def condense(question: str, history: list[dict], window: int = CONDENSE_WINDOW) -> str:
    """A standalone query: a short or referring follow-up carries the recent user turns with it.

    "and how would I lead more there?" after two turns about planning becomes those two
    turns plus itself, so retrieval stays on the topic under discussion.
    """
    previous = [str(m.get("content", "")) for m in history if m.get("role") == "user" and m.get("content")]
    if not previous or (len(question.split()) > 12 and not _REFERRING.search(question)):
        return question
    return " ".join([*previous[-window:], question])
