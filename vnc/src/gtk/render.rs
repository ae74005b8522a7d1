//! Drawing the remote screen. With GL the framebuffer lives in a texture
//! and only damaged rectangles are uploaded; then either GTK's renderer
//! draws that texture itself ([`ScreenTexture`], a `gdk::GLTexture`: one
//! pass over the window, used at 1:1 and for smooth scaling) or, for sharp
//! (nearest) scaling, which GTK 4.8 cannot do, a `GtkGLArea` draws a scaled
//! quad ([`GlRenderer`]) that GTK then composites. Without GL, or with
//! `PORTHOLE_RENDERER=software`, a `gdk::MemoryTexture` of the screen is
//! drawn by GSK.
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
    /// Adds `rect`, leaving out what other rectangles already cover: when
    /// updates come faster than frames, each frame uploads the same
    /// rectangles of several updates only once.
    pub fn add(&mut self, rect: Rect) {
        match self {
            Damage::None => *self = Damage::Rects(vec![rect]),
            Damage::Rects(rects) if rects.iter().any(|r| covers(r, &rect)) => {}
            Damage::Rects(rects) if rects.len() < MAX_RECTS => {
                rects.retain(|r| !covers(&rect, r));
                rects.push(rect);
            }
            Damage::Rects(_) => *self = Damage::Full,
            Damage::Full => {}
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Damage::None)
    }
}

/// Whether `outer` contains every pixel of `inner`.
fn covers(outer: &Rect, inner: &Rect) -> bool {
    outer.x <= inner.x
        && outer.y <= inner.y
        && outer.right() >= inner.right()
        && outer.bottom() >= inner.bottom()
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
        let gl = load_gl(&context)?;
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
                let resized = size != self.size;
                self.size = size;
                upload(gl, fb, damage, resized, (glow::RGBA8, glow::RGBA));
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

    /// Forgets the texture's contents: the next draw uploads everything
    /// (after frames drawn by the [`ScreenTexture`] instead).
    pub fn invalidate(&mut self) {
        self.size = (0, 0);
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

/// Makes `context` current and loads GL's functions for it.
fn load_gl(context: &gdk::GLContext) -> Result<glow::Context, String> {
    context.make_current();
    let library = epoxy().ok_or("libepoxy.so.0 cannot be loaded")?;
    // SAFETY: the loader returns, for each GL name, the value of
    // libepoxy's exported function pointer `epoxy_<name>` (a dispatch
    // stub that resolves for the current context), or null when there
    // is none; glow reads them once, with `context` current as glow's
    // version query needs.
    Ok(unsafe {
        glow::Context::from_loader_function(|name| {
            let symbol = format!("epoxy_{name}\0");
            match library.get::<*const *const c_void>(symbol.as_bytes()) {
                Ok(variable) => **variable,
                Err(_) => std::ptr::null(),
            }
        })
    })
}

/// The screen in a GL texture of a context of our own (shared with GTK's,
/// as all of a display's contexts are), handed to GTK as a
/// `gdk::GLTexture` that its renderer draws directly: one full-window
/// pass per frame instead of the `GtkGLArea`'s two (its quad, then GTK
/// compositing the area's texture).
pub struct ScreenTexture {
    context: gdk::GLContext,
    gl: glow::Context,
    texture: glow::Texture,
    /// The texture's size; `(0, 0)` when its contents must be uploaded
    /// again in full.
    size: (u16, u16),
    /// What the last update produced, drawn again while nothing changes.
    current: Option<gdk::Texture>,
    /// The texture's filter: linear (`true`) or nearest.
    smooth: bool,
}

impl std::fmt::Debug for ScreenTexture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenTexture")
            .field("size", &self.size)
            .finish()
    }
}

impl ScreenTexture {
    /// A context for `widget`'s (realized) surface and a texture in it.
    /// Desktop GL only: uploads use `GL_BGRA`, the framebuffer's byte
    /// order, which GLES lacks.
    pub fn new(widget: &impl IsA<gtk::Widget>) -> Result<Self, String> {
        let surface = widget
            .native()
            .and_then(|n| n.surface())
            .ok_or("the widget has no surface")?;
        let context = surface.create_gl_context().map_err(|e| e.to_string())?;
        context.set_allowed_apis(gdk::GLAPI::GL);
        context.realize().map_err(|e| e.to_string())?;
        let gl = load_gl(&context)?;
        // SAFETY: object creation on the current context, owned by the
        // returned value.
        let texture = unsafe { gl.create_texture()? };
        Ok(Self {
            context,
            gl,
            texture,
            size: (0, 0),
            current: None,
            smooth: true,
        })
    }

    /// Forgets the texture's contents: the next update uploads everything
    /// (after frames drawn by the [`GlRenderer`] instead).
    pub fn invalidate(&mut self) {
        self.size = (0, 0);
    }

    /// Uploads `damage` from `framebuffer` (all of it after a resize or
    /// [`ScreenTexture::invalidate`]) and returns the texture to draw,
    /// filtered linearly when `smooth`, else nearest (GTK 4.8 samples a
    /// `GLTexture` with the texture's own filter).
    pub fn update(
        &mut self,
        framebuffer: Option<&Framebuffer>,
        damage: Damage,
        smooth: bool,
    ) -> Option<gdk::Texture> {
        let Some(fb) = framebuffer.filter(|fb| fb.width() > 0 && fb.height() > 0) else {
            return self.current.clone();
        };
        if matches!(damage, Damage::None) && self.size != (0, 0) && smooth == self.smooth {
            return self.current.clone();
        }
        self.context.make_current();
        let gl = &self.gl;
        let size = (fb.width(), fb.height());
        // SAFETY: our context is current and owns the texture; uploads
        // read exactly the rows of rectangles checked to lie inside `fb`
        // (see `upload_rect`), whose data outlives the calls.
        unsafe {
            gl.bind_texture(glow::TEXTURE_2D, Some(self.texture));
            let resized = size != self.size;
            self.size = size;
            // Unsized RGBA lets GL pick the storage that matches BGRA
            // bytes, so uploads are plain copies (with RGBA8, Mesa
            // swizzles every pixel of every upload).
            upload(gl, fb, damage, resized, (glow::RGBA, glow::BGRA));
            if resized {
                let clamp = glow::CLAMP_TO_EDGE as i32;
                gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_WRAP_S, clamp);
                gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_WRAP_T, clamp);
            }
            self.smooth = smooth;
            let filter = if smooth { glow::LINEAR } else { glow::NEAREST } as i32;
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MIN_FILTER, filter);
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MAG_FILTER, filter);
            gl.bind_texture(glow::TEXTURE_2D, None);
            // GTK's context reads the texture next; a flush orders the
            // uploads before its commands (no glFinish: nothing waits).
            gl.flush();
        }
        // SAFETY: the texture belongs to `context` and stays alive until
        // `destroy`, which the widget calls only on unrealize, after GTK
        // stopped drawing its nodes; a new wrapper per update tells GTK
        // the contents changed.
        let texture = unsafe {
            gdk::GLTexture::new(
                &self.context,
                self.texture.0.get(),
                i32::from(size.0),
                i32::from(size.1),
            )
        };
        self.current = Some(texture.upcast());
        self.current.clone()
    }

    /// Frees the texture (unrealize).
    pub fn destroy(mut self) {
        self.current = None;
        self.context.make_current();
        // SAFETY: the texture belongs to the now current context and is
        // not used again: `self` is consumed.
        unsafe { self.gl.delete_texture(self.texture) };
        gdk::GLContext::clear_current();
    }
}

/// Uploads what `damage` covers of `fb` into the bound texture, or, when
/// it was `resized` (or is new), allocates it at `fb`'s size with all of
/// `fb` in it. `formats` are the texture's internal format and the
/// format GL is told `fb`'s B, G, R, A bytes are in (see [`upload_rect`]).
///
/// # Safety
/// A context must be current with a texture bound to `TEXTURE_2D` that has
/// `fb`'s size unless `resized`.
unsafe fn upload(
    gl: &glow::Context,
    fb: &Framebuffer,
    damage: Damage,
    resized: bool,
    (internal, format): (u32, u32),
) {
    // SAFETY: (caller) a context is current with the texture bound; the
    // allocation reads exactly `fb`'s whole data, tightly packed rows.
    unsafe {
        if resized {
            gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
            gl.pixel_store_i32(glow::UNPACK_ALIGNMENT, 4);
            gl.tex_image_2d(
                glow::TEXTURE_2D,
                0,
                internal as i32,
                i32::from(fb.width()),
                i32::from(fb.height()),
                0,
                format,
                glow::UNSIGNED_BYTE,
                glow::PixelUnpackData::Slice(Some(fb.data())),
            );
            return;
        }
        match damage {
            Damage::None => {}
            Damage::Full => upload_rect(gl, fb, full(fb), format),
            Damage::Rects(rects) => {
                for rect in rects {
                    upload_rect(gl, fb, rect, format);
                }
            }
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

/// Uploads one rectangle of `fb` into the bound texture of the same size,
/// its B, G, R, A bytes given to GL as `format` (`RGBA` when a shader
/// swaps them back, `BGRA` where GL takes them as they are).
///
/// # Safety
/// A context must be current with a texture of `fb`'s size bound to
/// `TEXTURE_2D`.
unsafe fn upload_rect(gl: &glow::Context, fb: &Framebuffer, rect: Rect, format: u32) {
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
            format,
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
        // Opaque pixels are their own premultiplied form, and GDK uploads
        // premultiplied BGRA as it is, where plain BGRA is converted on the
        // CPU first.
        gdk::MemoryFormat::B8g8r8a8Premultiplied,
        &bytes,
        fb.stride(),
    );
    Some(texture.upcast())
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn rects(damage: &Damage) -> Vec<Rect> {
        match damage {
            Damage::Rects(rects) => rects.clone(),
            other => panic!("expected rectangles, got {other:?}"),
        }
    }

    #[test]
    fn damage_uploads_covered_rectangles_once() {
        let screen = Rect::new(0, 0, 1920, 1080);
        let tile = Rect::new(256, 128, 256, 128);
        let mut damage = Damage::default();
        damage.add(tile);
        damage.add(Rect::new(0, 0, 8, 8));
        // A second update of the same tile, then of the whole screen.
        damage.add(tile);
        assert_eq!(rects(&damage), vec![tile, Rect::new(0, 0, 8, 8)]);
        damage.add(screen);
        assert_eq!(rects(&damage), vec![screen]);
        damage.add(tile);
        assert_eq!(rects(&damage), vec![screen]);
        // Overlapping but not covered: both stay.
        let mut damage = Damage::default();
        damage.add(Rect::new(0, 0, 10, 10));
        damage.add(Rect::new(5, 5, 10, 10));
        assert_eq!(rects(&damage).len(), 2);
    }
}
