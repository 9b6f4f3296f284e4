"""newspipe: an Arabic-first news-processing pipeline on Apache Beam."""

__version__ = "0.1.0"
