package cfgfile

// TrainAliases are the names PEFT's LoraConfig and the Hugging Face /
// TRL trainer arguments give to golora train's options, mapped to
// golora's keys (its flag names).
var TrainAliases = map[string]Alias{
	"r":                           {Key: "rank"},
	"lora_alpha":                  {Key: "alpha"},
	"lora_dropout":                {Key: "dropout"},
	"target_modules":              {Key: "targets"},
	"layers_to_transform":         {Key: "layers"},
	"use_rslora":                  {Key: "rslora"},
	"learning_rate":               {Key: "lr"},
	"lr_scheduler_type":           {Key: "lr-schedule"},
	"warmup_steps":                {Key: "warmup"},
	"num_train_epochs":            {Key: "epochs"},
	"max_steps":                   {Key: "steps", Unset: -1},
	"per_device_train_batch_size": {Key: "batch-size"},
	"gradient_accumulation_steps": {Key: "grad-accum"},
	"gradient_checkpointing":      {Key: "grad-checkpoint"},
	"max_seq_length":              {Key: "max-seq-len"},
	"max_length":                  {Key: "max-seq-len"},
	"weight_decay":                {Key: "weight-decay"},
	"max_grad_norm":               {Key: "max-grad-norm"},
	"adam_beta1":                  {Key: "beta1"},
	"adam_beta2":                  {Key: "beta2"},
	"adam_epsilon":                {Key: "eps"},
	"output_dir":                  {Key: "out"},
	"save_steps":                  {Key: "save-every"},
	"eval_steps":                  {Key: "eval-every"},
}
