"""The data engine: one sample format (``training.data.sample.Sample``) for synthetic renders
(``synth``), real-format loaders (``loaders``) and teacher pseudo-labels (``pseudo_label``),
written to TFRecords and read by one tf.data pipeline (``pipeline``; augmentation in ``augment``)."""
