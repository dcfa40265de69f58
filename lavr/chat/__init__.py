"""Chat about images: threads that keep their images, objects and turns on a LangGraph checkpointer, a Python
session API, an OpenAI-compatible server with a web page, and a command-line REPL.

    from lavr.chat import ChatSession, open_chat
    chat = ChatSession(open_chat())
    chat.send("How many people?", images=["bus.jpg"]).answer
"""

from .models import ChatReply, ChatService, ChatTurn, ThreadImage, ThreadInfo, thread_of_completion
from .session import ChatSession, open_chat

__all__ = ["ChatReply", "ChatService", "ChatSession", "ChatTurn", "ThreadImage", "ThreadInfo", "open_chat",
           "thread_of_completion"]
