"""Decision: from the reasons the checks found to one outcome, by a table in the config."""
