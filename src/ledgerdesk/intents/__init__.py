"""Intent classification: labelled customer questions in, a trained classifier out."""
