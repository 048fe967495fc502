"""Training-side code for blazepose-sdk (data engine, later models). Not installed with the SDK."""
