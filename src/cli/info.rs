use curlora::core::device::{self, DeviceChoice};

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InfoArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let adapters = device::list_adapters();
    let chosen = device::select(choice)?;
    if args.json {
        let v = serde_json::json!({
            "adapters": adapters,
            "choice": format!("{choice:?}").to_lowercase(),
            "device": chosen.description,
            "dtype": curlora::core::dtype::name(chosen.dtype),
            "f16_supported": curlora::core::dtype::supports_f16(&chosen.device),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("curlora {}", env!("CARGO_PKG_VERSION"));
    if adapters.is_empty() {
        println!("wgpu adapters: none");
    } else {
        println!("wgpu adapters:");
        for a in &adapters {
            let kind = if a.software { "software" } else { "hardware" };
            println!(
                "  - {} [{}, {}, {kind}] {}",
                a.name, a.backend, a.device_type, a.driver
            );
        }
    }
    println!("CPU backend: Flex");
    println!(
        "--device {}: {}",
        format!("{choice:?}").to_lowercase(),
        chosen.description
    );
    let f16 = curlora::core::dtype::supports_f16(&chosen.device);
    println!(
        "f16 arithmetic: {} (--dtype {}: computes in {})",
        if f16 { "yes" } else { "no" },
        format!("{:?}", device::precision()).to_lowercase(),
        curlora::core::dtype::name(chosen.dtype)
    );
    Ok(())
}
