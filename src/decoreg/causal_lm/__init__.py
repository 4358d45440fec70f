"""The pretrained causal-LM family: text in, the number written as text out.

Build a regressor with `decoreg.causal_lm.build.build_from_params`, train it with any
objective of `decoreg.causal_lm.objectives.OBJECTIVES` and read numbers out with any decoder
of `decoreg.causal_lm.decoding.DECODERS`; `family.py` holds the family's registry record.
"""
