"""Self-supervised speaker representation (the SSL config section), after "Self-supervised
audio-visual speaker representation with Co-Meta learning" (a two-stage iterative framework).

Stage I (`pretrain`): a speaker encoder (speechbrain's ECAPA-TDNN lobe on 80-dim log-mel
frames) learns from unlabelled audio with a SimCLR-style contrastive loss: two random,
non-overlapping, noise-augmented segments of one utterance are a positive pair, the other
utterances of the batch are the negatives. Two segments of one recording share the speaker
and the channel, so the encoder learns who speaks (and, unavoidably, the channel).

Stage II (`rounds`): embed every training utterance, k-means them into pseudo speakers, train
the encoder as a classifier of those pseudo labels with an AAM-softmax head, and repeat. Each
round is its own cached stage, keyed by its settings and the previous round's key.

`co_meta` adds the Co-teaching+/Co-Meta option for two views of each sample: two encoders,
disagreement selection, small-loss selection with a growing noise rate and a MAML-style
support/query update. `evaluate` scores speaker verification (EER) on held-out speakers.

Modules: `encoder` (the network, save/load, embedding), `segments` (random segment pairs and
noise), `losses` (contrastive loss, AAM softmax), `pretrain`, `rounds`, `co_meta`, `evaluate`.
"""
