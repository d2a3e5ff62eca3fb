//! Choosing where tensors live: a hardware GPU through wgpu (Vulkan, Metal, DX12, WebGPU), or
//! the Flex CPU backend.
//!
//! `auto` takes a hardware adapter when wgpu finds one and otherwise Flex. A software adapter
//! (lavapipe, llvmpipe, SwiftShader: wgpu device type `Cpu`) is about 10× slower than Flex on
//! the same cores, so it is used only when asked for with `gpu`.

#[cfg(not(target_arch = "wasm32"))]
use crate::core::dtype;
use crate::core::dtype::Precision;
use crate::core::error::{Error, Result};
use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
#[cfg(not(target_arch = "wasm32"))]
use burn::tensor::wgpu::wgpu;

/// Whether `device` keeps tensors in host memory (Flex), where a full read costs a copy only.
/// (An autodiff device answers for the device it wraps.)
pub fn is_host_device(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        burn::backend::DispatchDevice::Flex(_)
    )
}

/// What the user asked for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU if there is one, else the CPU.
    #[default]
    Auto,
    /// The wgpu adapter wgpu prefers (a software one if that is all there is).
    Gpu,
    /// The Flex CPU backend.
    Cpu,
}

/// One wgpu adapter as the system reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// True for software rasterisers (device type CPU).
    pub software: bool,
}

/// A device ready for tensors, with a human description of it.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    pub device: Device,
    /// e.g. "NVIDIA H200 (Vulkan)" or "CPU (Flex)".
    pub description: String,
    pub is_gpu: bool,
    /// The float type the frozen model computes in ([`super::dtype`]); what trains is f32.
    pub dtype: burn::tensor::FloatDType,
}

/// The precision `select` gives devices: f32 unless the command line's `--dtype` (default
/// `auto`) says otherwise, so that the library, the app and the tests compute in f32.
static PRECISION: std::sync::Mutex<Precision> = std::sync::Mutex::new(Precision::F32);

/// Sets the precision [`select`] applies (before the first device is selected).
pub fn set_precision(p: Precision) {
    if let Ok(mut g) = PRECISION.lock() {
        *g = p;
    }
}

/// The precision [`set_precision`] set (`f32` until then).
pub fn precision() -> Precision {
    PRECISION.lock().map(|g| *g).unwrap_or_default()
}

/// Gives `d` the float type the requested precision chooses for it, printing a notice when
/// f16 was asked for and is not available.
#[cfg(not(target_arch = "wasm32"))]
fn apply_precision(mut d: ComputeDevice, hardware: bool) -> Result<ComputeDevice> {
    let chosen = dtype::choose(precision(), dtype::supports_f16(&d.device), hardware);
    if let Some(n) = &chosen.notice {
        eprintln!("note: {n}");
    }
    if dtype::default_float(&d.device) != chosen.dtype {
        dtype::configure(&mut d.device, chosen.dtype)?;
    }
    d.dtype = chosen.dtype;
    if chosen.dtype != burn::tensor::FloatDType::F32 {
        d.description += &format!(", {}", dtype::name(chosen.dtype));
    }
    Ok(d)
}

#[cfg(not(target_arch = "wasm32"))]
/// Lists the adapters wgpu can see on this machine (Vulkan, Metal, DX12, WebGPU).
pub fn list_adapters() -> Vec<AdapterSummary> {
    // Compute-capable APIs only: GL cannot run burn's kernels, and probing it prints EGL
    // warnings on headless machines.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                software: info.device_type == wgpu::DeviceType::Cpu,
            }
        })
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
/// Resolves a choice to a device. Call once per process and clone the result: burn registers
/// a wgpu runtime only once.
pub fn select(choice: DeviceChoice) -> Result<ComputeDevice> {
    let gpu_first = match choice {
        DeviceChoice::Cpu => false,
        DeviceChoice::Gpu => true,
        DeviceChoice::Auto => has_hardware_gpu(),
    };
    if !gpu_first {
        return apply_precision(cpu(), false);
    }
    let (d, setup) = gpu_shared()?;
    let hardware = setup.adapter.get_info().device_type != wgpu::DeviceType::Cpu;
    apply_precision(d, hardware)
}

pub fn cpu() -> ComputeDevice {
    ComputeDevice {
        device: Device::flex(),
        description: "CPU (Flex)".into(),
        is_gpu: false,
        dtype: burn::tensor::FloatDType::F32,
    }
}

/// The process's one wgpu device, with the handles (instance, adapter, device, queue) that let
/// eframe draw on the same device. Made on first use; burn can register a runtime only once.
#[cfg(not(target_arch = "wasm32"))]
static GPU: std::sync::OnceLock<std::result::Result<(ComputeDevice, WgpuSetup), String>> =
    std::sync::OnceLock::new();

#[cfg(not(target_arch = "wasm32"))]
/// The wgpu device and its handles, so that the app's renderer shares it with training.
pub fn gpu_shared() -> Result<(ComputeDevice, WgpuSetup)> {
    GPU.get_or_init(|| init_gpu().map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::Device)
}

#[cfg(not(target_arch = "wasm32"))]
/// Whether wgpu sees a hardware (non-software) adapter.
pub fn has_hardware_gpu() -> bool {
    list_adapters().iter().any(|a| !a.software)
}

#[cfg(not(target_arch = "wasm32"))]
fn init_gpu() -> Result<(ComputeDevice, WgpuSetup)> {
    if list_adapters().is_empty() {
        return Err(Error::Device(
            "no GPU adapter found: wgpu sees no Vulkan, Metal, DX12 or GL device. \
             Install a GPU driver (or mesa-vulkan-drivers for the lavapipe software \
             adapter), or use --device cpu"
                .into(),
        ));
    }
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| Error::Device(format!("could not start the wgpu device: {e}")))?;
    let info = setup.adapter.get_info();
    let soft = if info.device_type == wgpu::DeviceType::Cpu {
        ", software"
    } else {
        ""
    };
    let d = ComputeDevice {
        device,
        description: format!("{} ({:?}{soft})", info.name, info.backend),
        is_gpu: true,
        dtype: burn::tensor::FloatDType::F32,
    };
    Ok((d, setup))
}

/// The browser's WebGPU device, once [`init_browser_gpu`] succeeded.
#[cfg(target_arch = "wasm32")]
static BROWSER_GPU: std::sync::Mutex<Option<(ComputeDevice, WgpuSetup)>> =
    std::sync::Mutex::new(None);

/// Starts burn on the browser's WebGPU adapter (asynchronously: nothing may block in a page).
/// Call once, before any tensor is made on the GPU.
#[cfg(target_arch = "wasm32")]
pub async fn init_browser_gpu() -> Result<(ComputeDevice, WgpuSetup)> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| Error::Device(format!("WebGPU could not start: {e}")))?;
    let info = setup.adapter.get_info();
    let name = if info.name.is_empty() {
        "WebGPU adapter".to_string()
    } else {
        info.name.clone()
    };
    let d = ComputeDevice {
        device,
        description: format!("{name} (WebGPU)"),
        is_gpu: true,
        dtype: burn::tensor::FloatDType::F32,
    };
    if let Ok(mut g) = BROWSER_GPU.lock() {
        *g = Some((d.clone(), setup.clone()));
    }
    Ok((d, setup))
}

/// In the browser: the WebGPU device when it started (see [`init_browser_gpu`]), else Flex.
#[cfg(target_arch = "wasm32")]
pub fn select(choice: DeviceChoice) -> Result<ComputeDevice> {
    let gpu = BROWSER_GPU
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|(d, _)| d.clone()));
    match (choice, gpu) {
        (DeviceChoice::Cpu, _) | (DeviceChoice::Auto, None) => Ok(cpu()),
        (_, Some(d)) => Ok(d),
        (DeviceChoice::Gpu, None) => Err(Error::Device(
            "this browser gave no WebGPU device; training runs on the CPU (choose cpu)".into(),
        )),
    }
}

/// In the browser: whether a WebGPU device was started.
#[cfg(target_arch = "wasm32")]
pub fn has_hardware_gpu() -> bool {
    BROWSER_GPU.lock().map(|g| g.is_some()).unwrap_or(false)
}
