# The published VEGA optimisation: AdamW, constant learning rate, up to 400 epochs
# (early stopping after 30 epochs without validation improvement, see runtime).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=9.839349318565084e-05, weight_decay=0.009970935438927318))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
