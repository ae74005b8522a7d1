//! Drawing the remote screen: the GL renderer that keeps the framebuffer in
//! a texture, uploads only damaged rectangles and draws one scaled quad,
//! and the software renderer (a `gdk::MemoryTexture` drawn by GSK) used
//! when GL is unavailable or `PORTHOLE_RENDERER=software` asks for it.
//!
//! This is the only module of the crate with `unsafe` code: every GL call
//! through `glow` is an `unsafe fn`, because the GL driver trusts what it is
//! given. Each block says why its call is sound; they all run on the GTK
//! main thread with the `GtkGLArea`'s context current.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::OnceLock;

use glow::HasContext;
use gtk::prelude::*;
use gtk::{gdk, glib};

use super::scaling::Placement;
use crate::framebuffer::{Framebuffer, Rect};

/// The environment variable that picks a renderer (`gl` or `software`).
pub const RENDERER_ENV: &str = "PORTHOLE_RENDERER";

/// Whether the user asked for the software renderer.
pub fn software_requested() -> bool {
    std::env::var(RENDERER_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("software"))
}

/// What must be uploaded before the next frame.
#[derive(Debug, Default)]
pub enum Damage {
    #[default]
    None,
    Rects(Vec<Rect>),
    /// The whole screen (a new size, a new texture, too many rectangles).
    Full,
}

/// Past this many rectangles per frame one full upload is cheaper than
/// many small ones.
const MAX_RECTS: usize = 256;

impl Damage {
    pub fn add(&mut self, rect: Rect) {
        match self {
            Damage::None => *self = Damage::Rects(vec![rect]),
            Damage::Rects(rects) if rects.len() < MAX_RECTS => rects.push(rect),
            Damage::Rects(_) => *self = Damage::Full,
            Damage::Full => {}
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Damage::None)
    }
}

/// libepoxy, which GTK already uses for GL: it resolves GL functions for
/// whichever context (GLX, EGL, GLES) GDK made current.
fn epoxy() -> Option<&'static libloading::Library> {
    static EPOXY: OnceLock<Option<libloading::Library>> = OnceLock::new();
    EPOXY
        .get_or_init(|| {
            // SAFETY: GTK links libepoxy, so it is already loaded and
            // initialised; opening it again runs no initialisers.
            unsafe { libloading::Library::new("libepoxy.so.0") }.ok()
        })
        .as_ref()
}

/// The shaders; `{header}` becomes the version line for GL or GLES.
const VERTEX_SHADER: &str = "
uniform vec4 quad;
out vec2 uv;
void main() {
    // A triangle strip over the quad, corners from the vertex index, so no
    // vertex buffer is needed.
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    uv = corner;
    gl_Position = vec4(mix(quad.xy, quad.zw, corner), 0.0, 1.0);
}
";

const FRAGMENT_SHADER: &str = "
in vec2 uv;
uniform sampler2D screen;
out vec4 colour;
void main() {
    // The texture holds B, G, R, A bytes uploaded as RGBA (GLES has no
    // BGRA upload): swap them back here.
    colour = vec4(texture(screen, uv).bgr, 1.0);
}
";

/// The GL state of one realized `GtkGLArea`.
pub struct GlRenderer {
    gl: glow::Context,
    program: glow::Program,
    vertex_array: glow::VertexArray,
    texture: glow::Texture,
    quad: Option<glow::UniformLocation>,
    /// The texture's size; differs from the framebuffer's after a resize.
    size: (u16, u16),
}

impl std::fmt::Debug for GlRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlRenderer")
            .field("size", &self.size)
            .finish()
    }
}

impl GlRenderer {
    /// Sets up GL for `area` (realized, its context current). Fails with a
    /// message when something is missing; the caller falls back to the
    /// software renderer.
    pub fn new(area: &gtk::GLArea) -> Result<Self, String> {
        if let Some(error) = area.error() {
            return Err(error.to_string());
        }
        let context = area.context().ok_or("the GL area has no context")?;
        context.make_current();
        let library = epoxy().ok_or("libepoxy.so.0 cannot be loaded")?;
        // SAFETY: the loader returns, for each GL name, the value of
        // libepoxy's exported function pointer `epoxy_<name>` (a dispatch
        // stub that resolves for the current context), or null when there
        // is none; glow reads them once, with `context` current as glow's
        // version query needs.
        let gl = unsafe {
            glow::Context::from_loader_function(|name| {
                let symbol = format!("epoxy_{name}\0");
                match library.get::<*const *const c_void>(symbol.as_bytes()) {
                    Ok(variable) => **variable,
                    Err(_) => std::ptr::null(),
                }
            })
        };
        let header = if context.uses_es() {
            "#version 300 es\nprecision mediump float;\n"
        } else {
            "#version 150\n"
        };
        // SAFETY: plain object creation on the current context; every
        // object is checked before use and owned by the returned value.
        unsafe {
            let program = link_program(&gl, header)?;
            let vertex_array = gl.create_vertex_array()?;
            let texture = gl.create_texture()?;
            let quad = gl.get_uniform_location(program, "quad");
            Ok(Self {
                gl,
                program,
                vertex_array,
                texture,
                quad,
                size: (0, 0),
            })
        }
    }

    /// Uploads `damage` from `framebuffer` (all of it when the size
    /// changed) and draws it at `placement` in a `viewport`-sized (device
    /// pixels) target, clearing the rest to black.
    pub fn draw(
        &mut self,
        framebuffer: Option<&Framebuffer>,
        damage: Damage,
        placement: Placement,
        viewport: (i32, i32),
        smooth: bool,
    ) {
        let gl = &self.gl;
        // SAFETY: the context is current (GtkGLArea's render signal); the
        // texture and program belong to it; uploads read exactly the rows
        // of rectangles checked to lie inside `framebuffer` (see
        // `upload_rect`), whose data outlives the calls.
        unsafe {
            gl.bind_texture(glow::TEXTURE_2D, Some(self.texture));
            if let Some(fb) = framebuffer {
                let size = (fb.width(), fb.height());
                if size != self.size {
                    self.size = size;
                    gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
                    gl.pixel_store_i32(glow::UNPACK_ALIGNMENT, 4);
                    gl.tex_image_2d(
                        glow::TEXTURE_2D,
                        0,
                        glow::RGBA8 as i32,
                        i32::from(size.0),
                        i32::from(size.1),
                        0,
                        glow::RGBA,
                        glow::UNSIGNED_BYTE,
                        glow::PixelUnpackData::Slice(Some(fb.data())),
                    );
                } else {
                    match damage {
                        Damage::None => {}
                        Damage::Full => upload_rect(gl, fb, full(fb)),
                        Damage::Rects(rects) => {
                            for rect in rects {
                                upload_rect(gl, fb, rect);
                            }
                        }
                    }
                }
            }
            let filter = if smooth { glow::LINEAR } else { glow::NEAREST } as i32;
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MIN_FILTER, filter);
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MAG_FILTER, filter);
            let clamp = glow::CLAMP_TO_EDGE as i32;
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_WRAP_S, clamp);
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_WRAP_T, clamp);

            gl.clear_color(0.0, 0.0, 0.0, 1.0);
            gl.clear(glow::COLOR_BUFFER_BIT);
            if self.size.0 == 0 || self.size.1 == 0 || viewport.0 <= 0 || viewport.1 <= 0 {
                return;
            }
            let (vw, vh) = (f64::from(viewport.0), f64::from(viewport.1));
            // Normalised device coordinates: y points up, the picture's
            // first row is at the top.
            let left = placement.x / vw * 2.0 - 1.0;
            let right = (placement.x + placement.width) / vw * 2.0 - 1.0;
            let top = 1.0 - placement.y / vh * 2.0;
            let bottom = 1.0 - (placement.y + placement.height) / vh * 2.0;
            gl.use_program(Some(self.program));
            gl.uniform_4_f32(
                self.quad.as_ref(),
                left as f32,
                top as f32,
                right as f32,
                bottom as f32,
            );
            gl.active_texture(glow::TEXTURE0);
            gl.bind_vertex_array(Some(self.vertex_array));
            gl.draw_arrays(glow::TRIANGLE_STRIP, 0, 4);
            gl.bind_vertex_array(None);
            gl.use_program(None);
            gl.bind_texture(glow::TEXTURE_2D, None);
        }
    }

    /// Frees the GL objects; call with the context current (unrealize).
    pub fn destroy(self) {
        // SAFETY: the objects belong to the current context and are not
        // used again: `self` is consumed.
        unsafe {
            self.gl.delete_texture(self.texture);
            self.gl.delete_vertex_array(self.vertex_array);
            self.gl.delete_program(self.program);
        }
    }
}

fn full(fb: &Framebuffer) -> Rect {
    Rect {
        x: 0,
        y: 0,
        width: fb.width(),
        height: fb.height(),
    }
}

/// Uploads one rectangle of `fb` into the bound texture of the same size.
///
/// # Safety
/// A context must be current with a texture of `fb`'s size bound to
/// `TEXTURE_2D`.
unsafe fn upload_rect(gl: &glow::Context, fb: &Framebuffer, rect: Rect) {
    if rect.width == 0 || rect.height == 0 || !fb.contains(rect) {
        return;
    }
    let stride = fb.stride();
    let start = usize::from(rect.y) * stride + usize::from(rect.x) * 4;
    // The rows of `rect` within the framebuffer's data: from its first
    // pixel to the end of its last row.
    let end = (usize::from(rect.y) + usize::from(rect.height) - 1) * stride
        + (usize::from(rect.x) + usize::from(rect.width)) * 4;
    let Some(pixels) = fb.data().get(start..end) else {
        return;
    };
    // SAFETY: (caller) the bound texture has `fb`'s size and `rect` lies
    // inside it; GL reads `height` rows of `width` pixels `ROW_LENGTH`
    // pixels apart, which is exactly `pixels`.
    unsafe {
        gl.pixel_store_i32(glow::UNPACK_ALIGNMENT, 4);
        gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, i32::from(fb.width()));
        gl.tex_sub_image_2d(
            glow::TEXTURE_2D,
            0,
            i32::from(rect.x),
            i32::from(rect.y),
            i32::from(rect.width),
            i32::from(rect.height),
            glow::RGBA,
            glow::UNSIGNED_BYTE,
            glow::PixelUnpackData::Slice(Some(pixels)),
        );
        gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
    }
}

/// Compiles and links the two shaders with `header` in front.
///
/// # Safety
/// A context must be current.
unsafe fn link_program(gl: &glow::Context, header: &str) -> Result<glow::Program, String> {
    // SAFETY: (caller) a context is current; objects are checked and the
    // shaders deleted once linked.
    unsafe {
        let program = gl.create_program()?;
        let mut shaders = Vec::new();
        for (kind, body) in [
            (glow::VERTEX_SHADER, VERTEX_SHADER),
            (glow::FRAGMENT_SHADER, FRAGMENT_SHADER),
        ] {
            let shader = gl.create_shader(kind)?;
            gl.shader_source(shader, &format!("{header}{body}"));
            gl.compile_shader(shader);
            if !gl.get_shader_compile_status(shader) {
                let log = gl.get_shader_info_log(shader);
                gl.delete_shader(shader);
                gl.delete_program(program);
                return Err(format!("a shader did not compile: {log}"));
            }
            gl.attach_shader(program, shader);
            shaders.push(shader);
        }
        gl.link_program(program);
        for shader in shaders {
            gl.detach_shader(program, shader);
            gl.delete_shader(shader);
        }
        if !gl.get_program_link_status(program) {
            let log = gl.get_program_info_log(program);
            gl.delete_program(program);
            return Err(format!("the shaders did not link: {log}"));
        }
        Ok(program)
    }
}

/// The framebuffer as a GDK texture (software rendering, screenshots).
pub fn texture_of(fb: &Framebuffer) -> Option<gdk::Texture> {
    if fb.width() == 0 || fb.height() == 0 {
        return None;
    }
    let bytes = glib::Bytes::from(fb.data());
    let texture = gdk::MemoryTexture::new(
        i32::from(fb.width()),
        i32::from(fb.height()),
        gdk::MemoryFormat::B8g8r8a8,
        &bytes,
        fb.stride(),
    );
    Some(texture.upcast())
}
