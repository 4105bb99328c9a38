"""Processes: the supervisor that runs N instances on one listening socket, restarts and reloads
them, and the control pipe between an instance and its supervisor."""
