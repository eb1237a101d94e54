"""Map layers and analyses: pure functions of data and scope."""
