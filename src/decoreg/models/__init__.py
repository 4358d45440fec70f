"""Model families: pretrained causal LMs and the tabular encoder-decoder."""
