"""Events published after commit, through one bus interface with several backends."""
