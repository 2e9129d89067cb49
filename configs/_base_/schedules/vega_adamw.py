# The published VEGA optimisation: AdamW, constant learning rate, up to 400 epochs
# (early stopping after 30 epochs without validation improvement, see runtime).
optim_wrapper = dict(
    type='OptimWrapper',
    # fused=True: one kernel per parameter for the whole AdamW update (torch >= 2.4 on
    # the CPU), instead of a dozen element-wise passes over the 53 M parameters; the
    # same update up to rounding.  foreach=True is the portable middle ground.
    optimizer=dict(type='AdamW', lr=9.839349318565084e-05, weight_decay=0.009970935438927318,
                   fused=True))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
