/// Keys of TRL's configurations (GRPOConfig, SFTConfig, their TrainingArguments and the `trl`
/// CLI's model and script arguments) that rft does not read, each with a one-line reason, so a
/// TRL user's YAML file runs with the keys rft shares. A key that cannot change the result of a
/// CPU run in float32 on one process is skipped with a warning; one that would change the
/// experiment is refused.
public enum TRLKeys {
    /// Why rft does not read a key, and whether the run may go on without it.
    public struct Reason: Sendable {
        /// True when skipping the key leaves the run's result as TRL would compute it on a CPU.
        public let ignored: Bool
        /// One line for the user.
        public let reason: String
    }

    /// The key's reason, or nil when TRL has no such key (or rft reads it).
    public static subscript(key: String) -> Reason? { unsupported[key] }

    /// Every key in the table.
    static var names: [String] { Array(unsupported.keys) }

    /// Every TRL key rft does not read, by name (prefix families such as `vllm_*` included).
    static let unsupported: [String: Reason] = {
        var table: [String: Reason] = [:]
        func skip(_ reason: String, _ keys: String...) { for k in keys { table[k] = Reason(ignored: true, reason: reason) } }
        func refuse(_ reason: String, _ keys: String...) { for k in keys { table[k] = Reason(ignored: false, reason: reason) } }
        skip("rft computes in float32 on the CPU", "bf16", "fp16", "tf32", "fp16_opt_level", "half_precision_backend",
             "bf16_full_eval", "fp16_full_eval", "torch_dtype", "dtype", "use_cpu", "attn_implementation")
        skip("rft keeps every activation it needs; there is nothing to recompute", "gradient_checkpointing",
             "gradient_checkpointing_kwargs", "gradient_checkpointing_use_reentrant")
        skip("rft samples with its own KV-cache sampler", "use_vllm", "vllm_mode", "vllm_server_base_url", "vllm_server_host",
             "vllm_server_port", "vllm_server_timeout", "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size",
             "vllm_model_impl", "vllm_enable_sleep_mode", "vllm_guided_decoding_regex", "use_transformers_paged",
             "cache_implementation", "ds3_gather_for_generation")
        skip("rft logs to metrics.jsonl and the console", "report_to", "logging_dir", "logging_strategy", "logging_first_step",
             "logging_nan_inf_filter", "log_level", "log_level_replica", "log_on_each_node", "log_completions",
             "num_completions_to_print", "wandb_log_unique_prompts", "run_name", "disable_tqdm", "include_tokens_per_second",
             "include_num_input_tokens_seen", "skip_memory_metrics")
        skip("rft has no hub, and runs data-parallel under mpirun (docs/scaling.md)", "push_to_hub", "hub_model_id", "hub_strategy", "hub_token",
             "hub_private_repo", "local_rank", "ddp_backend", "ddp_timeout", "ddp_find_unused_parameters", "ddp_bucket_cap_mb",
             "deepspeed", "fsdp", "fsdp_config", "dataloader_num_workers", "dataloader_pin_memory", "dataloader_drop_last",
             "dataloader_persistent_workers", "dataloader_prefetch_factor", "dataset_num_proc", "torch_compile",
             "torch_compile_backend", "torch_compile_mode", "torchdynamo", "use_liger_kernel", "use_liger_loss",
             "save_on_each_node", "trust_remote_code", "model_revision")
        skip("rft's models have no dropout", "disable_dropout")
        skip("rft writes its own checkpoint format (rft export writes safetensors)", "save_safetensors", "save_strategy", "save_only_model")
        skip("rft always uses AdamW with decoupled weight decay", "optim")
        skip("rft has no separate evaluation loop in training", "eval_strategy", "per_device_eval_batch_size",
             "eval_accumulation_steps", "eval_delay", "eval_on_start", "prediction_loss_only")
        skip("rft keeps every field of a JSONL line as metadata for rewards", "remove_unused_columns")
        skip("rft takes the SFT loss on the completion tokens only, always", "completion_only_loss")
        skip("rft runs max_steps steps (TRL too ignores num_train_epochs when max_steps is set)", "num_train_epochs")
        skip("a TRL script flag with no meaning here", "overwrite_output_dir", "do_train", "do_eval", "do_predict")
        refuse("rft samples each step's completions at once: set per_device_train_batch_size and gradient_accumulation_steps",
               "steps_per_generation", "generation_batch_size")
        refuse("rft reads local JSONL files: use data", "dataset_name", "dataset_config", "dataset_train_split",
               "dataset_test_split", "dataset_text_field", "dataset_kwargs")
        refuse("rft does not truncate: a prompt longer than the model's context is an error of the data",
               "max_prompt_length", "max_length", "truncation_mode")
        refuse("rft trains every parameter (no adapters)", "use_peft", "lora_r", "lora_alpha", "lora_dropout",
               "lora_target_modules", "lora_modules_to_save", "lora_task_type", "load_in_8bit", "load_in_4bit")
        refuse("not in rft yet", "top_entropy_quantile", "sync_ref_model", "ref_model_mixup_alpha", "ref_model_sync_steps")
        refuse("rft samples with temperature, top_k and top_p only", "min_p", "repetition_penalty", "generation_kwargs")
        refuse("rft does not pack sequences", "packing", "padding_free")
        refuse("rft's SFT examples are prompt/completion pairs", "assistant_only_loss")
        refuse("not supported by rft", "label_smoothing_factor", "neftune_noise_alpha", "data_seed", "full_determinism",
               "group_by_length", "auto_find_batch_size")
        skip("rft draws each step's inputs at random from its seed", "shuffle_dataset")
        refuse("use rft train --resume (a run resumes from its own output folder)", "resume_from_checkpoint")
        return table
    }()
}
