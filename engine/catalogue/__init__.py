"""Process versions: deploying, approving and who may start a case of which process."""
