//! Painting a U heatmap: `r×r` values on one symmetric blue–white–red scale.
//!
//! On the CPU every cell is a rectangle in [`diverging`]'s colour: the reference, and what the
//! app does in tests, in the browser and whenever training is not on the window's GPU. Natively,
//! when training runs on the wgpu device that also draws the window ([`GpuColors`], set up by
//! [`super::run_with`]), the colormap kernel ([`crate::kernels::colormap`]) colours U on that
//! device and the pixels are copied into an egui texture there, buffer to texture, with no CPU
//! round trip for the image. U itself reaches the app as host values in the engine's events, so
//! each new snapshot is uploaded once (`r²` floats); an unchanged one is not coloured again.
//!
//! The kernel computes in f32 with `1/scale`, [`diverging`] in f64 with a division, so a channel
//! can differ by one step (of 255) between the two paths; `tests/kernels.rs` holds the kernel to
//! its f32 formula and that formula to [`diverging`].

use super::colors::diverging;
use egui::{Rect, Vec2};
use std::collections::HashMap;

#[cfg(not(target_arch = "wasm32"))]
pub use gpu::GpuColors;

/// Colouring on the GPU is native only: the browser's app never shares a device this way.
#[cfg(target_arch = "wasm32")]
pub struct GpuColors(());

/// The GPU-coloured heatmaps, kept between frames: one texture per `(run, module)`.
#[derive(Default)]
pub struct Textures {
    #[cfg(not(target_arch = "wasm32"))]
    cached: HashMap<(usize, String), gpu::Tex>,
    #[cfg(target_arch = "wasm32")]
    cached: HashMap<(usize, String), ()>,
}

impl Textures {
    /// Paints `u` (`r×r`, row-major) into `rect`, `px` points per cell: coloured on the GPU
    /// when `gpu` is there and the kernel runs, on the CPU otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn paint(
        &mut self,
        gpu: Option<&GpuColors>,
        key: (usize, &str),
        painter: &egui::Painter,
        rect: Rect,
        u: &[f32],
        r: usize,
        px: f32,
        scale: f64,
    ) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(gpu) = gpu
            && let Some(id) = self.gpu_texture(gpu, key, u, r, scale)
        {
            let uv = Rect::from_min_max(
                egui::pos2(0.0, 0.0),
                egui::pos2(r as f32 / gpu::ROW as f32, 1.0),
            );
            painter.image(id, rect, uv, egui::Color32::WHITE);
            return;
        }
        #[cfg(target_arch = "wasm32")]
        let _ = (gpu, key, &self.cached);
        paint_cpu(painter, rect, u, r, px, scale);
    }

    /// The texture for `key` holding `u`'s colours: the cached one when `u` and `scale` are
    /// unchanged, else coloured again (into the same texture when the size allows).
    #[cfg(not(target_arch = "wasm32"))]
    fn gpu_texture(
        &mut self,
        gpu: &GpuColors,
        key: (usize, &str),
        u: &[f32],
        r: usize,
        scale: f64,
    ) -> Option<egui::TextureId> {
        let key = (key.0, key.1.to_string());
        if let Some(t) = self.cached.get(&key)
            && t.holds(u, scale)
        {
            return Some(t.id());
        }
        let old = self.cached.remove(&key);
        let tex = gpu.colour(u, r, scale, old)?;
        let id = tex.id();
        self.cached.insert(key, tex);
        Some(id)
    }
}

/// The CPU path: one filled rectangle per cell, in [`diverging`]'s colour.
pub fn paint_cpu(painter: &egui::Painter, rect: Rect, u: &[f32], r: usize, px: f32, scale: f64) {
    for i in 0..r {
        for j in 0..r {
            let cell = Rect::from_min_size(
                rect.min + Vec2::new(px * j as f32, px * i as f32),
                Vec2::splat(px),
            );
            painter.rect_filled(cell, 0.0, diverging(f64::from(u[i * r + j]), scale));
        }
    }
}

/// The GPU path's pieces (native only), public so that tests can read a texture back.
#[cfg(not(target_arch = "wasm32"))]
pub mod gpu {
    use crate::kernels::colormap;
    use burn::tensor::{Device, Tensor, TensorData};
    use eframe::egui_wgpu::{self, wgpu};

    /// Texture width in pixels: a buffer-to-texture copy needs rows of a multiple of 256 bytes,
    /// so U's rows are padded to 64 values and the texture is drawn from its left `r/64`.
    pub const ROW: usize = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize / 4;

    /// The training device when it is the renderer's own wgpu device, and the renderer.
    pub struct GpuColors {
        device: Device,
        render: egui_wgpu::RenderState,
    }

    /// One coloured heatmap on the GPU, with the values it was coloured from.
    pub struct Tex {
        texture: wgpu::Texture,
        id: egui::TextureId,
        values: Vec<f32>,
        scale: f64,
    }

    impl Tex {
        pub fn id(&self) -> egui::TextureId {
            self.id
        }

        pub fn holds(&self, u: &[f32], scale: f64) -> bool {
            self.scale == scale && self.values == u
        }
    }

    impl GpuColors {
        /// `device` must be the wgpu device `render` draws with (see `core::device::gpu_shared`).
        pub fn new(device: Device, render: egui_wgpu::RenderState) -> Self {
            Self { device, render }
        }

        /// Colours `u` with the kernel on the training device and copies the pixels into a
        /// texture (`old`'s when it has `r` rows). `None` when the kernel's output is not a
        /// wgpu buffer (or U is wider than a row), so that the caller paints on the CPU.
        pub fn colour(&self, u: &[f32], r: usize, scale: f64, old: Option<Tex>) -> Option<Tex> {
            let old = old.filter(|t| t.texture.height() as usize == r);
            let texture = match &old {
                Some(t) => t.texture.clone(),
                None => texture(&self.render.device, r),
            };
            colour_into(
                &self.device,
                &self.render.device,
                &self.render.queue,
                u,
                r,
                scale,
                &texture,
            )?;
            let id = match old {
                Some(t) => t.id,
                None => self.render.renderer.write().register_native_texture(
                    &self.render.device,
                    &texture.create_view(&Default::default()),
                    wgpu::FilterMode::Nearest,
                ),
            };
            Some(Tex {
                texture,
                id,
                values: u.to_vec(),
                scale,
            })
        }
    }

    /// `u` (`r×r`) coloured by the kernel on `device` (burn's side of the shared wgpu device),
    /// copied buffer to texture into `texture` (from [`texture`]) on the same device. `None`
    /// when the kernel's pixels are not in a wgpu buffer, or U is wider than a row.
    pub fn colour_into(
        device: &Device,
        wgpu_device: &wgpu::Device,
        queue: &wgpu::Queue,
        u: &[f32],
        r: usize,
        scale: f64,
        texture: &wgpu::Texture,
    ) -> Option<()> {
        if r == 0 || r > ROW || u.len() != r * r || texture.height() as usize != r {
            return None;
        }
        let mut padded = vec![0f32; r * ROW];
        for (row, values) in padded.chunks_mut(ROW).zip(u.chunks(r)) {
            row[..r].copy_from_slice(values);
        }
        let values = Tensor::<2>::from_data(TensorData::new(padded, [r, ROW]), device);
        let pixels = colormap::colormap(values, -scale, scale);
        let buffer = colormap::wgpu_buffer(&pixels)?;
        let mut encoder = wgpu_device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer.buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: buffer.offset,
                    bytes_per_row: Some((ROW * 4) as u32),
                    rows_per_image: Some(r as u32),
                },
            },
            texture.as_image_copy(),
            texture.size(),
        );
        queue.submit([encoder.finish()]);
        // Submitted: later work on the queue, burn's included, runs after the copy.
        drop(buffer);
        Some(())
    }

    /// An `r`-row heatmap texture in egui's user-texture format (gamma-space RGBA8), that can
    /// also be copied from (for tests).
    pub fn texture(wgpu_device: &wgpu::Device, r: usize) -> wgpu::Texture {
        wgpu_device.create_texture(&wgpu::TextureDescriptor {
            label: Some("curlora U heatmap"),
            size: wgpu::Extent3d {
                width: ROW as u32,
                height: r as u32,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        })
    }
}
