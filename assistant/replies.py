"""What the coach says in its own words, without the library: safety, greetings, thanks, about, scope."""

from __future__ import annotations

# Where to turn, one line per need. Every safety reply carries the emergency number and a crisis
# line, whatever kind of crisis it opens with: the kind is a reading and can be wrong.
_EMERGENCY = "call your local emergency number (999 in the UK, 911 in the US, 112 in the EU)"
_CRISIS_LINE = "Samaritans on 116 123 in the UK and Ireland, or call or text 988 in the US"
_CLOSE = (
    "You reached out, and that was the right thing to do. When you're safe and want to, I'm here for the "
    "leadership side."
)


def _safety(opening: str, *lines: str) -> str:
    return f"{opening}\n\n" + "\n".join(lines) + f"\n\n{_CLOSE}"


_WHERE_TO_TURN = (
    "- **If anyone is hurt, unwell or in danger now** (someone injured or collapsed, a fire, a smell of "
    f"gas), get people away from the danger and {_EMERGENCY} straight away, or get someone nearby to.",
    "- **If you, or someone you're worried about, may be thinking of suicide or self-harm**, contact a "
    f"crisis line today ({_CRISIS_LINE}), or stay with them and get help together.",
    "- **For harassment, abuse, threats, violence, or people made to work against their will**, you don't "
    "have to handle it alone: tell the police about an assault, a threat or forced work, and HR, a manager "
    "you trust or your union about the rest (go above anyone who is part of it), and keep a note of what "
    "happened.",
)
SAFETY = _safety(
    "Thank you for telling me. What you describe sounds serious, and it matters more than any coaching "
    "question, so I'll step out of coaching here.",
    *_WHERE_TO_TURN,
)
# When the reading is not sure: the same lines, opened as a check rather than a verdict (a hard
# week, or a safety rule broken with nobody hurt, can read like a crisis).
SAFETY_UNSURE = _safety(
    "Before any coaching, I want to check one thing: some of what you wrote could mean that someone's "
    "safety is at risk, and that comes first.",
    *_WHERE_TO_TURN,
)

# The safety reply by the kind of crisis the reader is sure of: the line that fits comes first, in
# words that stay true if the reading of who is at risk is wrong, and the others stay below it.
SAFETY_BY_KIND = {
    "self": _safety(
        "Thank you for telling me. It sounds like you may be having thoughts of not wanting to be here, "
        "and that matters far more than any work question. You don't have to carry this on your own.",
        f"- **Please talk to someone today**: a crisis line listens at any hour ({_CRISIS_LINE}), or tell "
        "one person you trust how you're feeling.",
        f"- **If you feel you might act on these thoughts**, {_EMERGENCY} now, or go to someone near you. If "
        "you have something you could hurt yourself with, put it out of reach or give it to someone.",
        "- **If it's someone else you're worried about**, stay with them and help them make that call.",
    ),
    "other": _safety(
        "Thank you for telling me. It sounds like someone you're responsible for may be at risk, and "
        "helping them get support matters more than any coaching question right now.",
        "- **If they might act soon or are in danger**, stay with them or make sure someone does, and "
        f"{_EMERGENCY}. If they have gone or don't answer, call now and ask for a welfare check.",
        f"- **Help them reach a crisis line** ({_CRISIS_LINE}). You don't need the right words, only to "
        "help them connect.",
        "- **Bring in HR or your employee assistance programme**, for them and for you: this is a lot to "
        "carry. If it's you who feels this way, the same lines are there for you.",
    ),
    "harm": _safety(
        "I'm sorry you're dealing with this. Nobody should be hurt, threatened or harassed at work, and "
        "keeping people safe comes before any coaching question.",
        f"- **If anyone is in danger or hurt right now**, {_EMERGENCY}, and keep away from the person if you can.",
        "- **You don't have to handle it alone**: report an assault or a threat to the police, and the rest to "
        "HR, a manager you trust or your union (go above anyone who is part of it). Keep a dated note of what "
        "happened. Where a child or young person is involved, tell your safeguarding lead or the police.",
        f"- **If it has left you or someone else thinking of self-harm**, a crisis line can help ({_CRISIS_LINE}).",
    ),
    "emergency": _safety(
        f"This sounds like an emergency. Please {_EMERGENCY} now, or get someone nearby to call, and follow "
        "what the operator tells you.",
        "- **Stay with the person** if it is safe to, and send someone to meet the ambulance or get a first "
        "aider. If it's you who is unwell and alone, call now and unlock the door if you can.",
        f"- **If someone is thinking of ending their life**, stay with them and call a crisis line too "
        f"({_CRISIS_LINE}).",
        "- **Afterwards**, tell HR or your safety lead, and take care of the people who saw it.",
    ),
    "mind": _safety(
        "That sounds frightening and heavy to carry, and you don't have to get through it alone.",
        "- **If you or anyone with you might be in danger, someone stops responding, or it gets worse**, "
        f"{_EMERGENCY} now.",
        "- **A crisis line can talk it through with you right now**, whether it's panic, feeling unreal or "
        f"thoughts of not wanting to be here ({_CRISIS_LINE}).",
        "- **If you can, tell someone near you what's happening** and ask them to stay with you (or, if "
        "it's someone on your team, stay with them).",
    ),
}


def safety_reply(kind: str = "", sure: bool = True) -> str:
    """The safety reply that opens with what fits ``kind`` when the reading is ``sure``; otherwise the
    one that opens as a check, and adds the line for a misread hard week."""
    return SAFETY_BY_KIND.get(kind, SAFETY) if sure else f"{SAFETY_UNSURE}\n\n{MISREAD}"


# Added when the reading is not sure: a hard week can sound like a crisis.
MISREAD = (
    "If I've misread you and nobody is at risk, say so, or tell me a little more about what's happening "
    "at work, and we'll work through it together."
)

GREETING = (
    "Hello! I'm a leadership coach. Tell me about something from your week with your team, and I'll say "
    "whether it leans to managing or to leading, suggest what you could try, and ask a question to help "
    "you decide. You can also ask me about managing and leading: every answer cites the library.\n\n"
    "What's on your mind this week?"
)

THANKS = (
    "You're welcome, I'm glad it helped. If you try something this week, tell me how it went, or "
    "describe the next situation you'd like to think through."
)

ABOUT = (
    "I'm a coaching assistant for people who run teams. Here is what I can do:\n\n"
    "- **Managing or leading?** Describe something you did or are facing, and I'll read it across ten "
    "focus areas (planning, organizing, administering, controlling, enforcement; direction, vision, "
    "motivation, inspiring, empowering) and say which way it leans.\n"
    "- **Options you can try**, from a playbook of common situations, each with the article it comes from.\n"
    "- **Answers from a library** of leadership articles, with a citation [n] behind every claim that "
    "opens the passage.\n"
    "- **One coaching question** at a time, and I note what you commit to so we can come back to it.\n"
    "- **Your own documents**: upload notes (.md, .txt, .pdf) that only your session can see.\n\n"
    "I don't use the internet or a hidden model's general knowledge: if the library doesn't cover "
    "something, I say so. What would you like to work on?"
)

OFF_TOPIC = (
    "That's outside what I can help with: I'm a coach for managing and leading people at work, so I "
    "won't guess at an answer. I can help you think through a situation with your team, delegation, "
    "feedback, one-to-ones, motivation, change, or how to set direction. What's going on with your team "
    "this week?"
)

OUT_OF_SCOPE = (
    "I couldn't find anything about that in the leadership library, so I won't guess at an answer. "
    "I can help you think through managing and leading: planning, organizing and controlling work; "
    "setting direction and vision; motivating, inspiring and empowering people; delegation, feedback, "
    "one-to-ones and coaching. Try describing a situation from your week, or ask about one of those."
)

# Replies that need no library, by intent.
CONVERSATIONAL = {"greeting": GREETING, "thanks": THANKS, "about": ABOUT, "off_topic": OFF_TOPIC}
