"""What the coach says in its own words, without the library: safety, greetings, thanks, about, scope."""

from __future__ import annotations

SAFETY = (
    "I'm really sorry this is happening. It sounds serious, and it matters more than any coaching "
    "question, so I'll step out of coaching here.\n\n"
    "- **If anyone is in danger right now**, call your local emergency number (999 in the UK, 911 in the "
    "US, 112 in the EU) or get someone nearby to help.\n"
    "- **If you, or someone you're worried about, may be thinking of suicide or self-harm**, contact a "
    "crisis line today (Samaritans 116 123 in the UK and Ireland, 988 in the US), or stay with them and "
    "get help together.\n"
    "- **For harassment, abuse, threats or violence at work**, you don't have to handle it alone: talk to "
    "HR, a manager you trust, your union or your employee assistance programme, and keep a note of what "
    "happened.\n\n"
    "You reached out, and that was the right thing to do. When you're safe and want to, I'm here for the "
    "leadership side."
)

# Added when the reading is not sure: a hard week can sound like a crisis.
MISREAD = (
    "If I've misread you and this is about pressure at work rather than anyone's safety, say so and "
    "we'll work through it together."
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
