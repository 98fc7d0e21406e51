"""The stages of the request pipeline, one concern per module."""
