"""Engine adapters: corrections to Beam runners newspipe runs on, one module per engine."""
