"""Chat: a nickname, a message field, and the list of messages shown to everyone.

Messages are `{nickname, text, at}` under the key `chat`, as the demo page's <server-chat> keeps
them (the original's key was `chat_messages`, without `at`), so both show one conversation.

    streamlit run examples/streamlit/chat.py
"""

import time

import streamlit as st

from y_server_state.streamlit import server_state, server_state_lock

st.title("Chat")

nickname = st.text_input("Nick name", key="nickname")
if not nickname:
    st.stop()


def on_message_input() -> None:
    text = st.session_state["message_input"]
    if not text:
        return
    message = {"nickname": nickname, "text": text, "at": int(time.time() * 1000)}
    with server_state_lock["chat"]:
        server_state["chat"] = server_state.get("chat", []) + [message]
    st.session_state["message_input"] = ""


with server_state_lock["chat"]:
    if "chat" not in server_state:
        server_state["chat"] = []

st.text_input("Message", key="message_input", on_change=on_message_input)

for m in server_state["chat"]:
    st.markdown(f"**{m.get('nickname', '?')}**: {m.get('text', '')}")
