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
from .answer.ranking import starts_with_pronoun
from .chunking import stable_id
from .diagnosis import FACET_DESCRIPTIONS, Diagnoser
from .embeddings import Embedder, kept
from .library import Library
from .playbook import Card, Line, Match
from .questions import (
    COUNTERPART,
    FIRM_UP_QUESTION,
    GOAL_QUESTION,
    OPTIONS_QUESTION,
    SIDE_OF,
    TOWARD,
    WAY_FORWARD_QUESTION,
)
from .replies import CONVERSATIONAL, OUT_OF_SCOPE, safety_reply
from .retrieval import Retrieval
from .settings import Settings
from .types import Diagnosis, Facet, Passage, Reply, Sentence
from .understanding import Understanding

_REFERRING = re.compile(
    r"\b(it|that|this|those|these|there|he|she|they|him|her|them|his|their|instead|more|else|example|described|suggested)\b",
    re.I,
)
# How many passages a follow-up that names an author is searched among for that author's.
NAMED_CANDIDATES = 30
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
# A question the library has no direct answer to: said plainly, then the nearest it has.
NOT_ANSWERED = "The library doesn't answer that directly, so I won't guess. The nearest thing it has:"
NOT_COVERED = "The library has nothing on {}, so I won't guess at it. The nearest thing it has:"
ASK_WHY_IT_MATTERS = "What is happening in your team that makes this question matter to you now?"
# A second card this likely may add options when the situation's own card has run out.
NEARBY = 0.1
# A question this close to a library heading that asks it is answered by that section: its
# first sentences, a paragraph per passage.
ANSWERED = 0.65
NEARER = 0.1
# An article passage this near is the answer itself when no heading comes as near ("How does John
# Maxwell define leadership?" is the definition, 0.84, not his levels, 0.75 through another wording).
EXACT = 0.8
# Nearer than this and this far ahead of every other heading also answers a question (of the
# other ways the common questions are asked, each matched against the rest, 79% of those in
# 0.55-0.65 that were this far ahead found their own heading; 52% of all in 0.60-0.65).
STANDS_OUT = 0.55
STANDS_OUT_BY = 0.08
# The other wordings of a heading count this much less than the heading itself ("is leading better
# than managing", listed under "Is leadership more important...", came nearer "what's the
# difference between managing and leading?" than the heading that asks exactly that).
ASKED_DISCOUNT = 0.01
# A story this close to a common question asks it (none of the dev set's situations came within
# 0.75 of one, apart from "Am I managing or leading here?", which stays a situation).
ASKED_IN_A_STORY = 0.75
# A question whose best passage is further than this from it is not answered by the library
# (unknown models reached 0.40 at most; 117 of the 120 library questions 0.43 or more): the
# reply says so and quotes only the nearest sentence.
ANSWERS_DIRECTLY = 0.41
SECTION_SENTENCES = 5
PARAGRAPH_SENTENCES = 3
# A card option this close to a commitment is the move the person chose.
SAME_MOVE = 0.5
# How sure a card match must be for a commitment made without a situation before it to get
# the card's pitfall.
SURE_STANDALONE = 0.6
OPTIONS_SHOWN = 3
# A passage this close overrules an off-topic reading (off-topic test and holdout messages
# reached 0.48 at most; "What is the GROW model?" 0.53).
LIBRARY_KNOWS = 0.52
ABOUT_SURE = 0.9
# How much the facet a situation lacks weighs, beside the situation itself, in choosing options.
LACKING_WEIGHT = 0.3
# A how-to question is answered with a card's moves when the matcher is this sure of the card
# (as sure as it must be to name one: at 0.5, "two of my senior people avoid each other, how do I
# handle it?" got library sentences about new managers' friendships; no dev reply changed);
# a goal gets the steps of its nearest card instead of library quotes (at 0.15, "my team handles
# complaints end-to-end without escalating to me" got two quotes from worked examples).
HOW_TO = re.compile(
    r"^\W*(?:how (?:do|can|should|would|could) (?:i|we|you)\b|how (?:i|we) (?:can |should )?\w+|how to\b|"
    r"what should i\b|what(?:'?s| is) (?:a |the )?(?:best|good|right) (?:way|format|approach)\b|"
    r"any (?:tips|advice|ideas)\b)|\bwhat (?:do|should|can) i do\b",
    re.I,
)
CARD_FOR = {"question": 0.3, "goal": 0.05}
GOAL_LEAD = "That's a goal worth working toward. Steps that tend to get you there:"
HOW_TO_LEAD = "Here is what tends to work:"
# A follow-up this short (or one that refers back) is about the card already under discussion.
FOLLOW_UP_WORDS = 15
# "What does Kotter say about this?" is for the library, whatever is under discussion: a name
# inside the sentence (not its first word, not "I").
NAMES_A_SOURCE = re.compile(r"(?<=[a-z,] )(?!I\b)[A-Z][a-z]{2,}")
# "Is this managing or leading?" ("is that managing?"), asked about the situation under discussion.
WHICH_SIDE = re.compile(
    r"\b(?:manag\w*|lead\w*)\b.{0,40}\bor\b.{0,20}\b(?:manag\w*|lead\w*)\b|"
    r"^\W*(?:is|was|are) (?:that|this|it|these|those) (?:\w+ )?(?:manag|lead)\w*\b",
    re.I,
)
# "Why does that matter?", "what's the risk?", "but I don't want to be the bad guy": a doubt about
# the situation under discussion, answered from its card; other follow-up questions go to the
# library with the conversation as their query.
WHY = re.compile(
    r"\b(?:why|risks?|matters?|what if|what happens|downsides?|go wrong|worth it|the point|"
    r"don'?t want|worried|afraid|scared|nervous)\b|^\W*but\b",
    re.I,
)
# "What could I actually say to him?" and "what should I watch for?", after a card's options.
SAY = re.compile(
    r"\bwhat (?:could|should|would|do|can|might) i (?:\w+ )?(?:say|tell)\b|"
    r"\bhow (?:do|should|could|would|can) i (?:word|phrase|put it|say|respond|answer|reply)\b|"
    r"\bhow to (?:word|phrase|say|respond)\b|\bwhat (?:words|to say)\b|\bscript\b",
    re.I,
)
WATCH = re.compile(
    r"\bwatch (?:out )?for\b|\bpitfalls?\b|\bbe careful (?:of|about)\b|\bwhat (?:could|might|can) go wrong\b|"
    r"\bmistakes? to avoid\b|\bwhat should i avoid\b",
    re.I,
)
WORDS_LEAD = "Words you could try, to put in your own way:"
WORDS_QUESTION = "Which of these sounds most like you, and how would you say it in your own words?"
PITFALLS_LEAD = "What to watch for:"
PITFALLS_QUESTION = "Which of these is most likely to trip you up, and what will you do if it happens?"
VERB = {"management": "managing", "leadership": "leading"}
ONE_OPTION_QUESTION = "Would that fit your team, and what is the smallest step you could take this week?"


class Coaching:
    """Turns a read message into a Context for a backend, or a Reply that needs no library."""

    def __init__(self, settings: Settings, library: Library, embedder: Embedder, diagnoser: Diagnoser) -> None:
        self.settings = settings
        self.library = library
        self.embedder = embedder
        self.diagnoser = diagnoser
        self._facets: dict[str, np.ndarray] | None = None
        self._headings: tuple[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

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
        """What to reply to ``text``: a composed or retrieved Context, or a Reply already whole
        (safety, conversational acts, out of scope). A feeling the person names as their own
        ("I'm 27 and feel like a fraud") is met first, whatever the reply."""
        planned = self._plan(text, read, history, notes, owner, top_k, diagnose)
        if isinstance(planned, Context):
            feeling = acknowledge(text, planned.intent)
            if feeling and not any(feeling in s.lead for s in planned.sections):
                planned = replace(planned, sections=[Section(feeling), *planned.sections])
        return planned

    def _plan(
        self,
        text: str,
        read: Understanding,
        history: list[dict],
        notes: list[str],
        owner: str,
        top_k: int | None,
        diagnose: bool | None,
    ) -> Context | Reply:
        intent = read.intent
        if intent == "distress":
            return Reply(
                safety_reply(read.kind, read.sure), [], False, query=text, notes=notes, safety=True, intent=intent
            )
        # The library may overrule the reader's "off-topic", and an "about the coach" it is unsure
        # of; "Are you like a real coach?" shares words with coaching articles and is still about us.
        unsure = intent == "off_topic" or (intent == "about" and read.scores.get("about", 0.0) < ABOUT_SURE)
        if unsure and self._library_knows(text, read, owner):
            read = replace(read, intent="question")
            intent = read.intent
        if intent in CONVERSATIONAL:
            return Reply(CONVERSATIONAL[intent], [], intent != "off_topic", query=text, notes=notes, intent=intent)
        wanted = self.settings.diagnose if diagnose is None else diagnose
        if history and (SAY.search(text) or WATCH.search(text)):
            planned = self._words_or_pitfalls(text, read, history, notes)
            if planned is not None:
                return planned
        if history and (intent in ("question", "goal") or (intent == "situation" and WHICH_SIDE.search(text))):
            planned = self._follow_up(text, read, history, notes, wanted)
            if planned is not None:
                return planned
        if intent == "situation" and not history and not WHICH_SIDE.search(text):
            # A story that asks one of the library's common questions ("my new report is remote and
            # I've never met him... how do I build a relationship?") gets its answer.
            planned = self._answered(text, read, history, notes, ASKED_IN_A_STORY)
            if planned is not None:
                return planned
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
        # A question the library asks itself in a heading is answered by that section, whole.
        answered = self._answered(text, read, history, notes) if query == text else None
        if answered is not None:
            return answered
        # A follow-up ("how do I start with the first step?") is about what came before: the library.
        card = self._card_for(text, read) if query == text else None
        if card is not None:
            # The card's moves are the answer to "how do I..."; sentences about the topic in
            # general, picked beside them, read as unrelated, so the library is not searched.
            shown = said_before(history)
            goal = read.intent == "goal"
            options = self._ranked_options(card, read.vector, card.lacking, shown)[:OPTIONS_SHOWN]
            sections = [Section(GOAL_LEAD if goal else HOW_TO_LEAD, options, bullets=True)]
            question = GOAL_QUESTION if goal else self._card_question(card, shown) or ASK_ABOUT_THEIR_TEAM
            return composed(text, query, history, None, notes, question, read.intent, sections)
        retriever = self.library.retriever
        # A follow-up that names an author ("What does Kotter say about this?") is searched wider for
        # that author's documents; the first top_k of the wider search are the plain search's.
        named = named_in(text) if query != text else set()
        k = top_k or retriever.top_k
        wide = max(k, NAMED_CANDIDATES) if named else k
        found = retriever.retrieve(query, top_k=wide, vector=read.vector if query == text else None, owner=owner)
        if named:
            found = by_named_author(named, found, k) or replace(found, passages=found.passages[:k])
        covered = found.in_scope and bool(found.passages)
        if not covered and read.intent != "situation":
            return Reply(OUT_OF_SCOPE, [], False, query=query, notes=notes, intent=read.intent)
        sections, question, diagnosis, quotes = [], ASK_ABOUT_THEIR_TEAM, None, 3
        # (A follow-up is searched with the conversation, so its closeness says less.)
        asked = read.intent == "question" and query == text
        unknown = retriever.unknown_names(text, owner) if asked else []
        if unknown or (asked and found.best_similarity < ANSWERS_DIRECTLY):
            lead = NOT_COVERED.format(" or ".join(unknown)) if unknown else NOT_ANSWERED
            sections, question, quotes = [Section(lead)], ASK_WHY_IT_MATTERS, 1
        elif read.intent == "goal":
            question = GOAL_QUESTION
        elif read.intent == "options":  # ideas from the library, for no situation a card fits
            question = OPTIONS_QUESTION
        elif read.intent == "situation" and wanted:  # no playbook card fits: the read, then the library
            diagnosis = self.diagnoser.diagnose(text, read.vector, layers=read.layers, force=True)
            if diagnosis is not None:
                sections = [Section(read_line(diagnosis).rstrip(":") + ".")]
                question = TOWARD[COUNTERPART[diagnosis.drivers()[0].name]]
        chunk_ids = {p.chunk.chunk_id for p in found.passages}
        return Context(
            question=text,
            query=query,
            slots=[Slot("", found.passages, found.vector, quotes=quotes)] if covered else [],
            sentences=self.library.index.sentences_of(chunk_ids),
            history=history,
            diagnosis=diagnosis,
            notes=notes,
            coaching_question=question,
            intent=read.intent,
            sections=sections,
        )

    def _answered(
        self, text: str, read: Understanding, history: list[dict], notes: list[str], floor: float = ANSWERED
    ) -> Context | None:
        """A question that a library section asks in its heading ("How often should I praise
        people without it getting cheap?") gets that section's answer, a paragraph per passage,
        and closes with the question the section pairs with it; None when no heading is ``floor`` near."""
        if read.intent not in ("question", "situation"):
            return None
        retriever = self.library.retriever
        sections = retriever.question_sections()
        keys = tuple(sections)
        if not keys:
            return None
        similarity = self._near_headings(keys, read.vector)
        # Context first, then the question ("I'm terrible at delegating... How do I start?"):
        # the question alone is matched too.
        asked = last_question(text)
        if asked:
            similarity = np.maximum(similarity, self._near_headings(keys, self.embedder.embed_one(asked)))
        second, best = (int(i) for i in np.argsort(similarity)[-2:]) if len(keys) > 1 else (0, 0)
        apart = similarity[best] >= STANDS_OUT and similarity[best] - similarity[second] >= STANDS_OUT_BY
        if similarity[best] < floor and not (read.intent == "question" and apart):
            return None
        # A passage of the articles far nearer than the heading answers more exactly ("How does
        # Maxwell define leadership?" is the definition, not the common question on his levels).
        nearest = retriever.retrieve(text, vector=read.vector).passages
        closest = max((p.similarity for p in nearest), default=0.0)
        if closest > similarity[best] + NEARER or closest >= EXACT > similarity[best]:
            return None
        chunks = sections[keys[best]]
        stored = self.library.index.sentences_of(c.chunk_id for c in chunks)
        sentences = sorted((s for s, _ in stored), key=lambda s: s.start)
        quotes, room = [], SECTION_SENTENCES
        for chunk in chunks:
            said = [s for s in sentences if s.chunk_id == chunk.chunk_id and not s.text.rstrip().endswith("?")]
            said = said[: min(room, PARAGRAPH_SENTENCES)]
            room -= len(said)
            if said:
                joined = Sentence(
                    stable_id(chunk.chunk_id, str(said[0].start), "section"),
                    chunk.chunk_id,
                    chunk.doc_id,
                    " ".join(s.text for s in said),
                    said[0].start,
                    said[-1].end,
                )
                quotes.append(Quote(Passage(chunk, float(similarity[best]), float(similarity[best])), joined))
        if not quotes:
            return None
        question = own_question(retriever.section_text(chunks[0])) or ASK_ABOUT_THEIR_TEAM
        return composed(text, text, history, None, notes, question, read.intent, [Section("", [q]) for q in quotes])

    def _near_headings(self, keys: tuple[tuple[str, str], ...], vector: np.ndarray) -> np.ndarray:
        """The cosine of ``vector`` to each question heading, or to the nearest of the other ways
        people ask it (the article's ``asked`` front matter), less ASKED_DISCOUNT: a heading the
        message is as near as to another heading's wording keeps it."""
        asked = self.library.asked
        if self._headings is None or self._headings[0] != (keys, asked):
            ways = [[heading, *asked.get((doc, heading), ())] for doc, heading in keys]
            starts = np.cumsum([0] + [len(w) for w in ways[:-1]])
            discount = np.concatenate([[0.0] + [ASKED_DISCOUNT] * (len(w) - 1) for w in ways])
            # The headings and their other wordings take seconds to embed: kept on disk.
            vectors = kept(self.embedder, self.settings.data_dir, "headings", [w for row in ways for w in row])
            self._headings = ((keys, asked), (vectors, starts, discount))
        vectors, starts, discount = self._headings[1]
        return np.maximum.reduceat(vectors @ vector - discount, starts)

    def _card_for(self, text: str, read: Understanding) -> Card | None:
        """The card whose options answer a how-to question or a goal, when the match is sure."""
        floor = CARD_FOR.get(read.intent)
        how_to = HOW_TO.search(text) or HOW_TO.search(last_question(text))
        if floor is None or (read.intent == "question" and not how_to):
            return None
        playbook = self.library.playbook
        matches = playbook.match(read.vector, read.layers, 1, read.tokens)
        if not matches or matches[0].score < (floor if playbook.learned else CARD_NAMED[False]):
            return None
        return matches[0].card

    def _discussed(self, history: list[dict]) -> Card | None:
        """The card whose options the latest reply that gave any showed: the situation under
        discussion (of two cards there, the one shown first)."""
        cards = self.library.playbook.cards
        for message in reversed(history):
            if message.get("role") != "assistant":
                continue
            content = str(message.get("content", ""))
            found = [
                (min(at), card)
                for card in cards
                if (at := [i for o in card.options if (i := content.find(o.action.text[:60])) >= 0])
            ]
            if found:
                return min(found, key=lambda pair: pair[0])[1]
        return None

    def _words_or_pitfalls(
        self, text: str, read: Understanding, history: list[dict], notes: list[str]
    ) -> Context | None:
        """ "What do I actually say to him?" gets the words the card under discussion suggests;
        "what should I watch for?" its pitfalls. None without such a card."""
        card = self._discussed(history)
        if card is None:
            return None
        asked_words = bool(SAY.search(text))
        lines = card.words if asked_words else card.watch
        quotes = [q for q in (self._quote(card, line, 1.0) for line in lines) if q is not None]
        if not quotes:
            return None
        feeling = acknowledge(text, "situation")
        lead = WORDS_LEAD if asked_words else PITFALLS_LEAD
        sections = [Section(f"{feeling} {lead}".strip(), quotes, bullets=True)]
        shown = said_before(history)
        question = WORDS_QUESTION if asked_words else self._card_question(card, shown) or PITFALLS_QUESTION
        return composed(text, text, history, None, notes, question, read.intent, sections)

    def _follow_up(
        self, text: str, read: Understanding, history: list[dict], notes: list[str], wanted: bool
    ) -> Context | None:
        """A short question about the situation under discussion: "is this managing or leading?"
        gets the read of that situation; "why does that matter?" the card's own lines nearest it."""
        if (len(text.split()) > FOLLOW_UP_WORDS and not _REFERRING.search(text)) or NAMES_A_SOURCE.search(text):
            return None
        earlier = user_turns(history)
        card = self._discussed(history)
        shown = said_before(history)
        if WHICH_SIDE.search(text) and earlier and wanted:
            situation = " ".join(earlier[-CONDENSE_WINDOW:])
            encoded = self.embedder.encode([situation])
            diagnosis = self.diagnoser.diagnose(situation, encoded.vectors[0], layers=encoded.layers[0], force=True)
            if diagnosis is None:
                return None
            quotes: list[Quote] = []
            if card is not None:
                diagnosis = with_card(diagnosis, Match(card, 1.0), CARD_NAMED[self.library.playbook.learned])
                aim = self._facet_vectors()[diagnosis.drivers()[0].name] + encoded.vectors[0]
                quotes = self._best_lines(card, card.reading, aim, 1)
            lead = read_line(diagnosis) if quotes else read_line(diagnosis).rstrip(":") + "."
            sections = [Section(lead, quotes)]
            question = (card and self._card_question(card, shown)) or TOWARD[COUNTERPART[diagnosis.drivers()[0].name]]
        elif card is not None and WHY.search(text):
            lines = [*card.reading, *card.watch]
            sections = [Section("", self._best_lines(card, lines, read.vector, 2))]
            question = self._card_question(card, shown) or OPTIONS_QUESTION
            diagnosis = None
        else:
            return None
        return composed(text, text, history, diagnosis, notes, question, read.intent, sections)

    # ---- situations, options and commitments: coach from the playbook --------------------
    def _coach(
        self, text: str, read: Understanding, history: list[dict], notes: list[str], wanted: bool
    ) -> Context | None:
        intent = read.intent
        # Options are about the situation under discussion; a commitment is read with it too, and
        # so is a short situation that goes on from the turn before ("She keeps changing priorities").
        follows = intent in ("options", "commitment") or starts_with_pronoun(text)
        subject = condense(text, history) if follows else text
        if subject == text:
            vector, layers, tokens = read.vector, read.layers, read.tokens
        else:
            encoded = self.embedder.encode([subject])
            vector, layers, tokens = encoded.vectors[0], encoded.layers[0], (encoded.states, encoded.mask)
        playbook = self.library.playbook
        matches = [m for m in playbook.match(vector, layers, 2, tokens) if m.score >= CARD_FLOOR[playbook.learned]]
        nearby = [m for m in matches if m.score >= NEARBY]  # more options when the situation's own run out
        discussed = self._discussed(history) if intent in ("options", "commitment") else None
        # A step announced after a situation's options is about that situation; options are, when
        # asked for in a short or referring follow-up.
        if discussed is not None and (
            intent == "commitment" or len(text.split()) <= FOLLOW_UP_WORDS or _REFERRING.search(text)
        ):
            sure = CARD_NAMED[playbook.learned]
            matches = [Match(discussed, 1.0), *(m for m in matches if m.card is not discussed and m.score >= sure)][:2]
        else:
            discussed = None
            if intent == "options":  # ideas for no situation under discussion: only a card that clearly fits
                matches = [m for m in matches if m.score >= CARD_NAMED[playbook.learned]]
        diagnosis = None
        if wanted and intent in ("situation", "commitment"):
            diagnosis = self.diagnoser.diagnose(
                text, read.vector, layers=read.layers, commitment=intent == "commitment", force=True
            )
        if not matches and intent != "commitment":
            return None
        shown = said_before(history)
        # The situation under discussion told again ("I tried that, they still wait"): what was
        # not shown yet, without the reading and options given before.
        again = intent == "situation" and bool(shown) and matches[0].card is self._discussed(history)
        if again and (sections := self._options(matches[:1], vector, shown, nearby, again=True)):
            question = self._card_question(matches[0].card, shown) or OPTIONS_QUESTION
        elif intent == "situation":
            if diagnosis is not None:
                diagnosis = with_card(diagnosis, matches[0], CARD_NAMED[playbook.learned])
            sections, question = self._situation(matches[0], diagnosis, vector, shown)
        elif intent == "options":
            sections = self._options(matches, vector, shown, nearby)
            question = OPTIONS_QUESTION if len(sections[0].quotes) > 1 else ONE_OPTION_QUESTION
        else:
            hedged = hedges(text)
            sections = self._commitment(matches, diagnosis, read.vector, discussed, hedged, shown)
            question = FIRM_UP_QUESTION if hedged else WAY_FORWARD_QUESTION
            notes = ["Noted your commitment: next time, tell me how it went.", *notes]
        if not any(s.quotes for s in sections) and intent != "commitment":
            return None
        feeling = acknowledge(text, intent) if intent in ("situation", "commitment") else ""
        if feeling:
            lead = sections[0].lead.replace("It sounds like ", "It looks like ", 1)
            sections[0] = replace(sections[0], lead=f"{feeling} {lead}".strip())
        return composed(text, subject, history, diagnosis, notes, question, intent, sections)

    def _situation(
        self, match: Match, diagnosis: Diagnosis | None, vector: np.ndarray, shown: str
    ) -> tuple[list[Section], str]:
        card = match.card
        named = match.score >= CARD_NAMED[self.library.playbook.learned]
        lead = f"It sounds like {lower_first(card.title).rstrip('.')}." if named else ""
        lacking = card.lacking
        reason: list[Quote] = []
        after = ""
        if diagnosis is not None:
            drivers = diagnosis.drivers()
            aim = self._facet_vectors()[drivers[0].name] + vector
            # The line that reads the situation, not the one naming the missing facet (the
            # options' lead names it).
            reading = [line for line in card.reading if "missing" not in line.text] or card.reading
            reason = self._best_lines(card, reading, aim, 1)
            # What is going on first, in the card's words; then where that sits between managing
            # and leading (a label first read as jargon, and the card's title as an echo).
            if reason:
                lead, after = "", frame_line(diagnosis)
            else:
                lead = f"{lead} {frame_line(diagnosis)}".strip()
            lacking = card.lacking or COUNTERPART[drivers[0].name]
        options = self._ranked_options(card, vector, lacking, shown)[:OPTIONS_SHOWN]
        sections = [
            Section(lead, reason, after=after),
            Section(
                f"A few things you could try, toward more {lacking}:" if lacking else "A few things to try:",
                options,
                bullets=True,
            ),
        ]
        return sections, self._card_question(card, shown) or TOWARD.get(lacking, OPTIONS_QUESTION)

    def _options(
        self,
        matches: list[Match],
        vector: np.ndarray,
        shown: str,
        nearby: list[Match] | None = None,
        again: bool = False,
    ) -> list[Section]:
        """The options for the situation under discussion, those not shown yet first; ``again``
        (the situation told again): only those not shown yet, and none when all of them were."""
        quotes: list[Quote] = []
        for match in matches:
            quotes += self._ranked_options(match.card, vector, match.card.lacking, shown)
        # Only what was not shown yet; everything again when all of it was. When the situation's
        # own card has fewer than two left, the next nearest card adds its own.
        fresh = [q for q in quotes if q.sentence.text[:60] not in shown]
        for match in nearby or []:
            if len(fresh) >= 2:
                break
            if all(match.card is not m.card for m in matches):
                more = self._ranked_options(match.card, vector, match.card.lacking, shown)
                fresh += [q for q in more if q.sentence.text[:60] not in shown][: 2 - len(fresh)]
        chosen = (fresh or quotes)[:OPTIONS_SHOWN]
        title = lower_first(matches[0].card.title)
        lead = f"Here are some options for when {title}:" if len(chosen) > 1 else f"One more thing to try when {title}:"
        if again:
            if not fresh:
                return []
            lead = f"{'Some moves' if len(chosen) > 1 else 'One move'} we haven't covered yet for when {title}:"
        return [Section(lead, chosen, bullets=True)]

    def _commitment(
        self,
        matches: list[Match],
        diagnosis: Diagnosis | None,
        vector: np.ndarray,
        discussed: Card | None,
        hedged: list[str],
        shown: str = "",
    ) -> list[Section]:
        # After a situation's options, the step moves toward what that situation lacked (the
        # options were chosen for it); otherwise the commitment heads read the step itself.
        toward = ""
        if discussed is not None and discussed.lacking in SIDE_OF:
            toward = f"**{VERB[SIDE_OF[discussed.lacking]]}**: more {discussed.lacking}"
        elif diagnosis is not None and diagnosis.lean in VERB:
            toward = f"**{VERB[diagnosis.lean]}**: more {diagnosis.drivers(1)[0].name}"
        if hedged:  # "Probably. If I find time." is an intention, not yet a step
            said = _and("“" + _LONE_I.sub("I", h.lower()) + "”" for h in hedged)
            verb = "leave" if len(hedged) > 1 else "leaves"
            lead = f"Naming it is a start, though {said} {verb} room for it not to happen."
            lead += f" Done, it would move you toward {toward}." if toward else ""
        elif toward:
            lead = f"That's a concrete step, and it moves you toward {toward}."
        else:
            lead = "That's a concrete step, and naming it makes it more likely to happen."
        sections = [Section(lead)]
        # A card only when it is clearly the situation the step answers: a wrong card's pitfall misleads.
        if not matches or (discussed is None and matches[0].score < SURE_STANDALONE):
            return sections
        card = matches[0].card
        lines = [o.line for o in card.options]
        best = self._best_lines(card, lines, vector, 1)
        if best and best[0].passage.similarity >= SAME_MOVE:
            sections.append(Section("It matches a move that tends to work:", best))
        else:  # a move the conversation has not shown yet: one shown before reads as a repeat
            best = self._best_lines(card, [line for line in lines if line.text[:60] not in shown], vector, 1)
            if best:
                sections.append(Section("One thing that helps it land:", best))
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


def last_question(text: str) -> str:
    """The question a longer message ends with ("I'm terrible at delegating... How do I start?"),
    or "" when the message is that question alone or ends otherwise."""
    last = _LAST_QUESTION.search(text[-600:])
    asked = last.group(1).strip() if last else ""
    return asked if len(asked) >= 8 and len(asked) < len(text.strip()) - 20 else ""


# The last question of a message: after its last sentence end, up to a question mark at its end.
_LAST_QUESTION = re.compile(r"(?:^|[.!?]\s)\s*([^.!?]{8,300}\?)\s*$")
# An article may end a section's answer with the question it suggests the reader ask.
_ASK_YOURSELF = re.compile(r"\bAsk yourself: ([^?\n]{3,200}\?)")


def own_question(section: str) -> str:
    """The question a library section pairs with its answer ("Ask yourself: ...?"), or ""."""
    found = _ASK_YOURSELF.search(section)
    return found.group(1)[:1].upper() + found.group(1)[1:] if found else ""


def named_in(text: str) -> set[str]:
    """The capitalised words of ``text`` that do not open a sentence (names), lower-cased."""
    return {
        m.group().lower()
        for m in re.finditer(r"\b[A-Z][a-z]{2,}\b", text)
        if text[: m.start()].rstrip()[-1:] not in ("", ".", "!", "?")
    }


def by_named_author(named: set[str], found: Retrieval, n: int) -> Retrieval | None:
    """The first ``n`` passages of the documents whose title has one of the ``named`` (as
    ``named_in`` gives them); None when there are none. A follow-up is searched with the situation
    before it, whose words would otherwise bring passages that only share them."""
    own = [p for p in found.passages if named & set(re.findall(r"[a-z][\w-]*", p.chunk.title.lower()))]
    return replace(found, passages=own[:n]) if own else None


def user_turns(history: list[dict]) -> list[str]:
    """What the person has said in the conversation, turn by turn."""
    return [str(m.get("content", "")) for m in history if m.get("role") == "user" and m.get("content")]


def said_before(history: list[dict]) -> str:
    """Everything the coach has said in the conversation, to tell what was shown already."""
    return " ".join(str(m.get("content", "")) for m in history if m.get("role") == "assistant")


def composed(
    text: str,
    query: str,
    history: list[dict],
    diagnosis: Diagnosis | None,
    notes: list[str],
    question: str,
    intent: str,
    sections: list[Section],
) -> Context:
    """A reply already composed in sections, with nothing left for a backend to pick."""
    return Context(
        question=text,
        query=query,
        slots=[],
        sentences=[],
        history=history,
        diagnosis=diagnosis,
        notes=notes,
        coaching_question=question,
        intent=intent,
        sections=sections,
    )


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


_HEDGE = re.compile(
    r"\b(probably|maybe|perhaps|hopefully|if i (?:find|get|have) (?:the )?time|"
    r"when i get (?:a|the) chance|at some point|if i can|we'?ll see|not sure)\b",
    re.I,
)
_LONE_I = re.compile(r"\bi\b")

# What a person says they feel, and the line that meets it before any advice (first match wins).
# Fear reads one way before a step ("slightly terrified") and another in a situation.
_FEELINGS = (
    (r"shattered|exhausted|knackered|burn(?:ed|t) out|worn out|drained|so tired", "That sounds exhausting."),
    (r"terrified|scared|nervous|anxious|dreading|afraid|panicking|freaking out|worried", "fear"),
    (r"frustrat\w*|fed up|annoyed|angry|furious|sick of|at my wits'? end|losing my mind", "That sounds frustrating."),
    (r"guilty|ashamed|embarrassed|awful|terrible|bad about", "It says something good that this bothers you."),
    (
        r"(?:want|wanna) to be the bad (?:guy|one|cop)|bad at (?:this|these|them|it|conversations)",
        "That's a natural worry.",
    ),
    (r"no choice|don'?t know what to do|at a loss|out of ideas|overwhelmed|stuck", "That's a hard spot to be in."),
    (r"hurt|upset|gutted|heartbroken|like a fraud|hate (?:feeling|this|it)", "That sounds hard."),
)
_FEAR = {
    "commitment": "Feeling nervous about it is normal; it usually means it matters to you.",
    "situation": "That worry is understandable.",
}
_FEELING = [(re.compile(rf"\b(?:{words})\b", re.I), line) for words, line in _FEELINGS]
# The feeling is the person's own: "I'm nervous", "makes me angry", or a sentence that opens with
# it ("Slightly terrified."), not "my technicians are dreading it".
_OWN = re.compile(r"\b(?:I|I'm|I’m|Im|me|myself)\b", re.I)


def acknowledge(text: str, intent: str = "situation") -> str:
    """A short line that meets a feeling the person names as their own ("I'm shattered",
    "slightly terrified"), or "" when they name none."""
    text = text[:4000]
    for pattern, line in _FEELING:
        for found in pattern.finditer(text):
            before = re.split(r"[.!?]", text[max(0, found.start() - 60) : found.start()])[-1]
            if _OWN.search(before) or len(before.split()) <= 1:
                return _FEAR.get(intent, _FEAR["situation"]) if line == "fear" else line
    return ""


def hedges(text: str) -> list[str]:
    """The words that make a commitment tentative ("probably", "if I find time"), as written."""
    found: list[str] = []
    for m in _HEDGE.finditer(text):
        if m.group(0).lower() not in (f.lower() for f in found):
            found.append(m.group(0))
    return found


def lower_first(title: str) -> str:
    """A card's title inside a sentence ("You redo..." -> "you redo...")."""
    return title[:1].lower() + title[1:]


def read_line(diagnosis: Diagnosis) -> str:
    """The managing/leading read in a line, ending with a colon for its reason."""
    drivers = _and(f.name for f in diagnosis.drivers())
    if diagnosis.lean == "balanced":
        return f"What you describe mixes managing and leading, mostly {drivers}:"
    return f"That leans to **{VERB[diagnosis.lean]}**, mostly {drivers}:"


# What each focus area is in a working week, beside its name: the name alone read as a label.
IN_PLAIN_WORDS = {
    "planning": "deciding steps, owners and dates",
    "organizing": "arranging who does what",
    "administering": "running the routines",
    "controlling": "checking on the work",
    "enforcement": "holding people to the rules",
    "direction": "saying where the team is heading",
    "vision": "a picture of the future",
    "motivation": "what keeps people going",
    "inspiring": "giving the work meaning",
    "empowering": "handing over decisions",
}


def frame_line(diagnosis: Diagnosis) -> str:
    """Where a situation sits between managing and leading, in a sentence after its reading."""
    drivers = diagnosis.drivers()

    def named(facets: list[Facet]) -> str:
        return _and(f"{f.name} ({IN_PLAIN_WORDS.get(f.name, f.name)})" for f in facets)

    if diagnosis.lean == "balanced":
        managing = [f for f in drivers if SIDE_OF.get(f.name) == "management"]
        leading = [f for f in drivers if f not in managing]
        if managing and leading:
            sides = f"{named(managing)} on the managing side, {named(leading)} on the leading side"
            return f"This mixes managing and leading: {sides}."
        return f"This sits between managing and leading, with {named(drivers)} most at work."
    return f"That leans to **{VERB[diagnosis.lean]}**, mostly {named(drivers)}."


def _and(names: object) -> str:
    items = list(names)  # type: ignore[call-overload]
    return " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " and " + items[-1]


# "our" and "we" too: "Who is each update in our meetings addressed to?" is asked of the person.
_FIRST_PERSON = re.compile(
    r"\b(am I|I am|I'm|I've|I'd|I'll|I|me|my|mine|myself|are we|we're|we've|we|us|our|ours|ourselves)\b"
)
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
    "are we": "are you",
    "we're": "you're",
    "we've": "you've",
    "we": "you",
    "us": "you",
    "our": "your",
    "ours": "yours",
    "ourselves": "yourselves",
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
    previous = user_turns(history)
    if not previous or (len(question.split()) > 12 and not _REFERRING.search(question)):
        return question
    return " ".join([*previous[-window:], question])
