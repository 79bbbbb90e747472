"""The core every stage stands on: files, names, errors, command lines, the networks."""
