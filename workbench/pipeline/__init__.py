"""The request pipeline: one Ray-free chain of stages for the gateway, tests and replay."""
