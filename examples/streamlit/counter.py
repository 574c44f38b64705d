"""Global counter: streamlit-server-state's first example, moved by its import line.

Every session of every process on the room, and the demo page's <server-counter>, share `count`;
each click is a locked increment, so none is lost.

    YSS_URL=http://127.0.0.1:1234 YSS_ROOM=default streamlit run examples/streamlit/counter.py
"""

import streamlit as st

from y_server_state.streamlit import server_state, server_state_lock

st.title("Global Counter Example")

with server_state_lock["count"]:  # lock the key while it is initialised
    if "count" not in server_state:
        server_state.count = 0

if st.button("Increment"):
    with server_state_lock.count:
        server_state.count += 1

if st.button("Decrement"):
    with server_state_lock.count:
        server_state.count -= 1

st.write("Count = ", server_state.count)
