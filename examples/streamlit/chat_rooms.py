"""Chat rooms: a list of rooms, a form to create one, and each room's messages.

The room list is `chat-rooms` and a room's messages `chat-room:<name>`, the demo page's
<server-chat-rooms> keys (the original's were `rooms` and `room_<name>`). A session is bound only
to the room it shows: moving to another room unbinds the old one.

    streamlit run examples/streamlit/chat_rooms.py
"""

import time

import streamlit as st

from y_server_state.streamlit import server_state, server_state_lock

ROOMS = "chat-rooms"


def main() -> None:
    with server_state_lock[ROOMS]:
        if ROOMS not in server_state:
            server_state[ROOMS] = []

    rooms = server_state[ROOMS]
    room = st.sidebar.radio("Select room", rooms)

    with st.sidebar.form("New room"):

        def on_create() -> None:
            name = st.session_state.new_room_name.strip()
            if not name:
                return
            with server_state_lock[ROOMS]:
                if name not in server_state[ROOMS]:
                    server_state[ROOMS] = server_state[ROOMS] + [name]

        st.text_input("Room name", key="new_room_name")
        st.form_submit_button("Create a new room", on_click=on_create)

    if not room:
        return

    room_key = f"chat-room:{room}"
    with server_state_lock[room_key]:
        if room_key not in server_state:
            server_state[room_key] = []

    st.header(room)

    nickname = st.text_input("Nick name", key=f"nickname_{room}")
    if not nickname:
        st.warning("Set your nick name.")
        return

    message_input_key = f"message_input_{room}"

    def on_message_input() -> None:
        text = st.session_state[message_input_key]
        if not text:
            return
        message = {"nickname": nickname, "text": text, "at": int(time.time() * 1000)}
        with server_state_lock[room_key]:
            server_state[room_key] = server_state[room_key] + [message]
        st.session_state[message_input_key] = ""

    st.text_input("Message", key=message_input_key, on_change=on_message_input)

    st.subheader("Messages:")
    for m in server_state[room_key]:
        st.markdown(f"**{m.get('nickname', '?')}**: {m.get('text', '')}")


main()
