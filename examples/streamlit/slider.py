"""Global slider: one value from 0 to 100, starting at 50, shared by every session.

The key is `slider`, the one the demo page's <server-slider> uses (the original's was
`slider_value`), so dragging either moves both.

    streamlit run examples/streamlit/slider.py
"""

import streamlit as st

from y_server_state.streamlit import server_state, server_state_lock

st.title("Globally Shared Slider Example")
st.markdown("Open this app in several windows, or the demo page: the slider's value is shared.")

with server_state_lock["slider"]:
    if "slider" not in server_state:
        server_state.slider = 50
    server_state.slider = st.slider("Shared value", min_value=0, max_value=100, value=int(server_state.slider))
