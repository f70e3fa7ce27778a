"""Reflective questions the coach can end on, each tied to a focus area."""

from __future__ import annotations

# (facet, question). The coach picks the one closest to the conversation, or, for a
# diagnosed situation, one on the side the situation lacks.
QUESTIONS: list[tuple[str, str]] = [
    ("planning", "What would you plan differently if you knew the plan would change halfway through?"),
    ("organizing", "Who on your team could own part of this arrangement if you stepped back from it?"),
    ("administering", "Which of these routine tasks actually needs you, and which could run without you?"),
    ("controlling", "What would you need to see to trust the work without checking every piece of it?"),
    ("enforcement", "When the rule is broken, what does your response teach the team about why the rule exists?"),
    ("direction", "If your team had to explain where you are heading in one sentence, what would they say?"),
    ("vision", "What future are you building toward, and does your team see it the way you do?"),
    ("motivation", "What do you know about what drives each person on your team, and how did you find out?"),
    ("inspiring", "When did your team last see you show, not tell, what good looks like?"),
    ("empowering", "Which decision you made this week could someone on your team have made instead?"),
    ("leadership", "Where in your week are you maintaining, and where are you creating useful change?"),
    ("leadership", "Whose growth as a leader are you investing in right now?"),
    ("management", "Which system or routine, if it ran well without you, would free you to lead?"),
    ("coaching", "What is the one conversation you have been putting off, and what would it take to start it?"),
    ("feedback", "What specific behaviour did you see, and what was its impact on the team?"),
    ("change", "What would make the people affected by this change want it, not just accept it?"),
]

# A question that moves a situation toward a facet it lacks. For the leadership facets the
# questions above already do; for the management ones a leader needs other words.
TOWARD = {
    facet: q for facet, q in QUESTIONS if facet in ("direction", "vision", "motivation", "inspiring", "empowering")
}
TOWARD.update(
    {
        "planning": "What would a simple plan, with owners and dates, add to what you have set in motion?",
        "organizing": "Who does what, and by when, so that this keeps going without you in the room?",
        "administering": "Which routine would make this repeatable once the energy of the start fades?",
        "controlling": "How will you know, week by week, whether what you started is working?",
        "enforcement": "Which standard here is not negotiable, and does everyone know it?",
    }
)

SIDE_OF = {
    "planning": "management",
    "organizing": "management",
    "administering": "management",
    "controlling": "management",
    "enforcement": "management",
    "direction": "leadership",
    "vision": "leadership",
    "motivation": "leadership",
    "inspiring": "leadership",
    "empowering": "leadership",
}

# The leadership counterpart that moves a management-heavy situation forward, and back.
COUNTERPART = {
    "planning": "direction",
    "organizing": "empowering",
    "administering": "motivation",
    "controlling": "empowering",
    "enforcement": "motivation",
    "direction": "planning",
    "vision": "planning",
    "motivation": "administering",
    "inspiring": "organizing",
    "empowering": "controlling",
}

# GROW across a conversation: the question that moves each stage on.
# A goal may be for a quarter or a year: the question asks for the first sign of progress.
GOAL_QUESTION = "What would you notice a month from now that tells you you're on the way?"
OPTIONS_QUESTION = "Which of these would you try first, and what is the smallest step you could take this week?"
WAY_FORWARD_QUESTION = "What might get in the way, and how will you know it worked?"
FIRM_UP_QUESTION = "What would make it definite: which day, and what is the first thing you will do?"
