#include "backoffice/citations/citation_pdf.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <cairo-pdf.h>
#include <cairo.h>
#include <jpeglib.h>
#include <librsvg/rsvg.h>

namespace stopline::backoffice {

namespace {

constexpr double kLetterW = 612, kLetterH = 792; /* US Letter, points */
constexpr double kMargin = 48;
const char *kFont = "DejaVu Sans";

/* ---------- images ---------- */

struct JpegError
{
    jpeg_error_mgr mgr;
    jmp_buf jump;
};

void jpegErrorExit(j_common_ptr cinfo)
{
    longjmp(reinterpret_cast<JpegError *>(cinfo->err)->jump, 1);
}

/* Decodes a JPEG into an RGB24 surface and attaches the original bytes, so the PDF
 * embeds the JPEG itself (DCTDecode) instead of re-compressed pixels. nullptr when the
 * bytes are not a JPEG libjpeg can read. Plain C inside: longjmp skips destructors. */
cairo_surface_t *decodeJpeg(const std::string &bytes)
{
    jpeg_decompress_struct cinfo;
    JpegError err;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpegErrorExit;
    cairo_surface_t *volatile surface = nullptr;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        if (surface)
            cairo_surface_destroy(surface);
        return nullptr;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char *>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const unsigned w = cinfo.output_width, h = cinfo.output_height;
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(w),
                                         static_cast<int>(h));
    if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS)
        longjmp(err.jump, 1);
    cairo_surface_flush(surface);
    unsigned char *data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    unsigned char *line = static_cast<unsigned char *>(std::malloc(size_t{w} * 3));
    while (cinfo.output_scanline < h) {
        unsigned y = cinfo.output_scanline;
        JSAMPROW row = line;
        jpeg_read_scanlines(&cinfo, &row, 1);
        auto *out = reinterpret_cast<uint32_t *>(data + size_t(y) * stride);
        for (unsigned x = 0; x < w; ++x)
            out[x] = (uint32_t{line[3 * x]} << 16) | (uint32_t{line[3 * x + 1]} << 8) |
                     line[3 * x + 2];
    }
    std::free(line);
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    cairo_surface_mark_dirty(surface);
    unsigned char *copy = static_cast<unsigned char *>(std::malloc(bytes.size()));
    std::memcpy(copy, bytes.data(), bytes.size());
    cairo_surface_set_mime_data(surface, CAIRO_MIME_TYPE_JPEG, copy, bytes.size(), std::free, copy);
    return surface;
}

struct PngReader
{
    const std::string *bytes;
    size_t pos = 0;
};

cairo_status_t readPng(void *closure, unsigned char *data, unsigned int length)
{
    auto *r = static_cast<PngReader *>(closure);
    if (r->pos + length > r->bytes->size())
        return CAIRO_STATUS_READ_ERROR;
    std::memcpy(data, r->bytes->data() + r->pos, length);
    r->pos += length;
    return CAIRO_STATUS_SUCCESS;
}

bool isJpeg(const DocImage &img)
{
    return img.bytes.size() > 3 && static_cast<unsigned char>(img.bytes[0]) == 0xFF &&
           static_cast<unsigned char>(img.bytes[1]) == 0xD8;
}
bool isPng(const DocImage &img)
{
    return img.bytes.rfind("\x89PNG", 0) == 0;
}
bool isSvg(const DocImage &img)
{
    return img.contentType == "image/svg+xml" ||
           (!isJpeg(img) && !isPng(img) && img.bytes.find("<svg") != std::string::npos);
}

using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

/* Draws `img` scaled to fit `r` (aspect kept, centred). False when there is nothing
 * drawable: the caller leaves the box empty and says so under it. */
bool drawImage(cairo_t *cr, const DocImage &img, const DocRect &r)
{
    if (img.bytes.empty())
        return false;
    if (isSvg(img)) {
        GError *error = nullptr;
        RsvgHandle *handle = rsvg_handle_new_from_data(
                reinterpret_cast<const guint8 *>(img.bytes.data()), img.bytes.size(), &error);
        if (!handle) {
            if (error)
                g_error_free(error);
            return false;
        }
        RsvgRectangle viewport{r.x, r.y, r.w, r.h};
        cairo_save(cr);
        gboolean ok = rsvg_handle_render_document(handle, cr, &viewport, &error);
        cairo_restore(cr);
        if (error)
            g_error_free(error);
        g_object_unref(handle);
        return ok;
    }
    SurfacePtr surface(nullptr, cairo_surface_destroy);
    if (isJpeg(img)) {
        surface.reset(decodeJpeg(img.bytes));
    } else if (isPng(img)) {
        PngReader reader{&img.bytes};
        surface.reset(cairo_image_surface_create_from_png_stream(readPng, &reader));
    }
    if (!surface || cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
        return false;
    double iw = cairo_image_surface_get_width(surface.get());
    double ih = cairo_image_surface_get_height(surface.get());
    if (iw <= 0 || ih <= 0)
        return false;
    double s = std::min(r.w / iw, r.h / ih);
    cairo_save(cr);
    cairo_translate(cr, r.x + (r.w - iw * s) / 2, r.y + (r.h - ih * s) / 2);
    cairo_scale(cr, s, s);
    cairo_set_source_surface(cr, surface.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    return true;
}

/* ---------- text ---------- */

void font(cairo_t *cr, double size, bool bold = false)
{
    cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

void ink(cairo_t *cr, double grey = 0.08)
{
    cairo_set_source_rgb(cr, grey, grey, grey);
}

double textWidth(cairo_t *cr, const std::string &s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    return e.x_advance;
}

void text(cairo_t *cr, double x, double y, const std::string &s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s.c_str());
}

void textRight(cairo_t *cr, double right, double y, const std::string &s)
{
    text(cr, right - textWidth(cr, s), y, s);
}

/* Shortens `s` with an ellipsis to fit `width`. */
std::string fit(cairo_t *cr, const std::string &s, double width)
{
    if (textWidth(cr, s) <= width)
        return s;
    std::string t = s;
    while (!t.empty() && textWidth(cr, t + "…") > width) {
        t.pop_back();
        while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80)
            t.pop_back(); /* whole UTF-8 characters */
    }
    return t + "…";
}

/* Word-wraps `s` into `width`; returns the baseline after the last line. */
double paragraph(cairo_t *cr, double x, double y, double width, double lineHeight,
                 const std::string &s)
{
    std::string line, word;
    auto flush = [&] {
        text(cr, x, y, line);
        y += lineHeight;
        line.clear();
    };
    for (size_t i = 0; i <= s.size(); ++i) {
        char c = i < s.size() ? s[i] : ' ';
        if (c != ' ' && c != '\n') {
            word += c;
            continue;
        }
        if (!word.empty()) {
            std::string candidate = line.empty() ? word : line + " " + word;
            if (!line.empty() && textWidth(cr, candidate) > width) {
                flush();
                line = word;
            } else {
                line = candidate;
            }
            word.clear();
        }
        if (c == '\n')
            flush();
    }
    if (!line.empty())
        flush();
    return y;
}

void rule(cairo_t *cr, double x1, double y, double x2, double grey = 0.7, double width = 0.6)
{
    cairo_set_source_rgb(cr, grey, grey, grey);
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, x1, y);
    cairo_line_to(cr, x2, y);
    cairo_stroke(cr);
}

void frame(cairo_t *cr, const DocRect &r)
{
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    cairo_set_line_width(cr, 0.8);
    cairo_rectangle(cr, r.x - 0.5, r.y - 0.5, r.w + 1, r.h + 1);
    cairo_stroke(cr);
}

/* A photo box with its caption; the box stays empty (white) when the image is missing. */
void photo(cairo_t *cr, const DocImage &img, const DocRect &r, const std::string &caption)
{
    bool drawn = drawImage(cr, img, r);
    frame(cr, r);
    font(cr, 7.5);
    ink(cr, 0.3);
    text(cr, r.x, r.y + r.h + 10, drawn ? caption : caption + ": not available");
}

/* ---------- one citation page ---------- */

const char *title(const CitationDoc &d)
{
    if (d.kind == "rental_notice")
        return "NOTICE TO RENTAL CAR BUSINESS";
    if (d.kind == "agency_copy" || d.kind == "department_copy")
        return "COPY OF NOTICE OF INFRACTION (REFERRAL)";
    return "NOTICE OF INFRACTION";
}

void drawCitation(cairo_t *cr, const CitationDoc &d, CitationLayout *layout)
{
    const double left = kMargin, right = kLetterW - kMargin, width = right - left;
    layout->pageWidth = kLetterW;
    layout->pageHeight = kLetterH;

    /* Header band. */
    cairo_set_source_rgb(cr, 0.06, 0.14, 0.25);
    cairo_rectangle(cr, 0, 0, kLetterW, 70);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    font(cr, 10);
    text(cr, left, 24, fit(cr, d.agencyName, width - 170));
    font(cr, 16, true);
    text(cr, left, 46, title(d));
    font(cr, 8.5);
    text(cr, left, 61, "Automated traffic safety camera");
    font(cr, 9);
    textRight(cr, right, 24, d.kind == "rental_notice" ? "Notice number" : "Citation number");
    font(cr, 15, true);
    textRight(cr, right, 44, d.number);
    font(cr, 9);
    textRight(cr, right, 61, "Issued " + d.issuedDate);

    /* Recipient (window-envelope position) and what is owed. */
    ink(cr);
    font(cr, 8, true);
    text(cr, left, 96, "TO");
    font(cr, 11, true);
    text(cr, left, 112, fit(cr, d.recipientName, 300));
    font(cr, 10);
    double y = 127;
    for (const std::string &l : d.recipientAddress) {
        text(cr, left, y, fit(cr, l, 300));
        y += 13;
    }
    const double boxX = 380;
    cairo_set_source_rgb(cr, 0.95, 0.96, 0.98);
    cairo_rectangle(cr, boxX, 84, right - boxX, 86);
    cairo_fill(cr);
    ink(cr);
    if (d.kind == "rental_notice") {
        font(cr, 8.5, true);
        text(cr, boxX + 10, 101, "NAME THE DRIVER OR RENTER BY");
        font(cr, 16, true);
        text(cr, boxX + 10, 124, d.dueDate);
        font(cr, 8);
        paragraph(cr, boxX + 10, 142, right - boxX - 20, 10,
                  "within " + std::to_string(d.rentalWindowDays) +
                          " days of receiving this notice");
    } else if (d.kind == "citation") {
        font(cr, 8.5, true);
        text(cr, boxX + 10, 101, "AMOUNT DUE");
        font(cr, 18, true);
        text(cr, boxX + 10, 124, d.amount);
        font(cr, 8.5, true);
        text(cr, boxX + 10, 146, "PAY OR REQUEST A HEARING BY");
        font(cr, 12, true);
        text(cr, boxX + 10, 162, d.dueDate);
    } else {
        font(cr, 8.5, true);
        text(cr, boxX + 10, 101, "REFERRED");
        font(cr, 8.5);
        paragraph(cr, boxX + 10, 116, right - boxX - 20, 11, d.referralNote);
    }

    /* Photos: the vehicle at the stop line, then in the intersection, then the plate. */
    const double photoTop = 184, photoW = (width - 12) / 2, photoH = photoW * 9 / 16;
    layout->vehiclePhoto = {left, photoTop, photoW, photoH};
    layout->secondPhoto = {left + photoW + 12, photoTop, photoW, photoH};
    photo(cr, d.vehiclePhoto, layout->vehiclePhoto, "Photo 1: vehicle at the stop line");
    photo(cr, d.secondPhoto, layout->secondPhoto, "Photo 2: vehicle continuing");
    const double plateTop = photoTop + photoH + 20;
    layout->plateCrop = {left, plateTop, 190, 62};
    photo(cr, d.plateCrop, layout->plateCrop, "Licence plate");
    ink(cr);
    font(cr, 8, true);
    text(cr, left + 206, plateTop + 10, "PLATE");
    font(cr, 16, true);
    text(cr, left + 206, plateTop + 30, d.plate);
    font(cr, 8, true);
    text(cr, left + 206, plateTop + 46, "VEHICLE");
    font(cr, 10);
    text(cr, left + 206, plateTop + 59, fit(cr, d.vehicle, right - left - 206));

    /* The violation. */
    y = plateTop + 62 + 30;
    rule(cr, left, y - 12, right);
    std::vector<std::pair<std::string, std::string>> rows = {
            {"Violation", d.violationType},
            {"Date and time", d.violationTime},
            {"Location", d.location},
    };
    if (!d.approach.empty()) /* neither direction nor lane in the record: no row */
        rows.push_back({"Approach", d.approach});
    rows.push_back({"Code", d.statute});
    for (const auto &m : d.measurements)
        rows.push_back(m);
    rows.push_back({"Record", d.recordId + "  (SHA-256 " + d.recordHash.substr(0, 16) + "…)"});
    for (const auto &[k, v] : rows) {
        ink(cr, 0.35);
        font(cr, 8.5);
        text(cr, left, y, k);
        ink(cr);
        font(cr, 9.5, k == "Violation" || k == "Code");
        text(cr, left + 100, y, fit(cr, v, width - 100));
        y += 13.5;
    }

    /* What the recipient does next. */
    y += 6;
    rule(cr, left, y - 10, right);
    font(cr, 9);
    ink(cr);
    std::string instructions;
    if (d.kind == "rental_notice")
        instructions =
                "The registered owner of this vehicle is a rental car business. A notice of "
                "infraction may be issued to the rental car business if it does not, within " +
                std::to_string(d.rentalWindowDays) +
                " days of receiving this notice, provide the name and known mailing address of "
                "the individual driving or renting the vehicle at the time of the violation. "
                "Answer at " +
                d.portalUrl + " with notice number " + d.number + " and access code " +
                d.accessCode + ".";
    else if (d.kind == "citation")
        instructions = "View the photographs and the video of this violation, pay the amount "
                       "due, or request a hearing at " +
                       d.portalUrl + " with citation number " + d.number + " and access code " +
                       d.accessCode +
                       ". You have the same options as with any other infraction: pay, request "
                       "a mitigation hearing or contest the violation. If you were not driving, "
                       "you may name the driver or declare under oath that you were not.";
    else
        instructions = "Copy for the agency contact, provided under the photo enforcement "
                       "business rules. The photographs and video are available at " +
                       d.portalUrl + " with number " + d.number + " and access code " +
                       d.accessCode + ".";
    y = paragraph(cr, left, y, width, 11.5, instructions);

    /* The reviewing officer's certification and digitized signature. */
    y = std::max(y + 8, kLetterH - 150);
    rule(cr, left, y - 10, right);
    font(cr, 8);
    ink(cr, 0.25);
    y = paragraph(cr, left, y, width, 10,
                  "I certify that, based on my inspection of the photographs and electronic "
                  "images produced by the automated traffic safety camera, the facts stated "
                  "above are true and support this notice.");
    layout->signature = {left, y + 2, 190, 52};
    bool signedImg = drawImage(cr, d.signature, layout->signature);
    rule(cr, left, y + 56, left + 220, 0.2, 0.8);
    ink(cr);
    font(cr, 9, true);
    text(cr, left, y + 68, d.reviewerName + (signedImg ? "" : " (signature not on file)"));
    font(cr, 8);
    ink(cr, 0.3);
    text(cr, left, y + 79, "Reviewing officer, approved " + d.reviewedDate);
    font(cr, 7);
    text(cr, left + 240, y + 68, "Approval statement SHA-256");
    text(cr, left + 240, y + 79, d.approvalHash);

    font(cr, 7);
    ink(cr, 0.45);
    text(cr, left, kLetterH - 24,
         fit(cr, d.agencyName + " · " + d.number + " · record " + d.recordId, width));
}

/* ---------- output ---------- */

cairo_status_t appendTo(void *closure, const unsigned char *data, unsigned int length)
{
    static_cast<std::string *>(closure)->append(reinterpret_cast<const char *>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

struct Pdf
{
    std::string out;
    cairo_surface_t *surface;
    cairo_t *cr;
    Pdf(double w, double h)
    {
        surface = cairo_pdf_surface_create_for_stream(appendTo, &out, w, h);
        cr = cairo_create(surface);
    }
    ~Pdf()
    {
        if (cr)
            cairo_destroy(cr);
        if (surface)
            cairo_surface_destroy(surface);
    }
    std::string finish()
    {
        cairo_destroy(cr);
        cr = nullptr;
        cairo_surface_finish(surface);
        cairo_status_t st = cairo_surface_status(surface);
        cairo_surface_destroy(surface);
        surface = nullptr;
        if (st != CAIRO_STATUS_SUCCESS)
            throw std::runtime_error(std::string("PDF rendering failed: ") +
                                     cairo_status_to_string(st));
        return std::move(out);
    }
};

} /* namespace */

std::string renderCitationsPdf(const std::vector<CitationDoc> &docs,
                               std::vector<CitationLayout> *layouts)
{
    Pdf pdf(kLetterW, kLetterH);
    for (const CitationDoc &d : docs) {
        CitationLayout layout;
        cairo_save(pdf.cr);
        drawCitation(pdf.cr, d, &layout);
        cairo_restore(pdf.cr);
        cairo_show_page(pdf.cr);
        if (layouts)
            layouts->push_back(layout);
    }
    if (docs.empty()) {
        font(pdf.cr, 12);
        ink(pdf.cr);
        text(pdf.cr, kMargin, 80, "Nothing to mail.");
        cairo_show_page(pdf.cr);
    }
    return pdf.finish();
}

std::string renderSummonsPdf(const std::string &agencyName, const std::string &generated,
                             const std::vector<SummonsLine> &lines)
{
    const double w = kLetterH, h = kLetterW; /* landscape */
    const double left = 32, right = w - 32;
    Pdf pdf(w, h);
    cairo_t *cr = pdf.cr;
    struct Col
    {
        const char *title;
        double width;
    };
    const Col cols[] = {
            {"Case", 34},  {"Citation", 78}, {"Name", 108},     {"Current address", 150},
            {"Phone", 78}, {"Plate", 56},    {"Violation", 96}, {"Due", 52},
            {"Over", 30},  {"Balance", 48}};
    int page = 0;
    double y = 0;
    auto header = [&] {
        ++page;
        ink(cr);
        font(cr, 14, true);
        text(cr, left, 40, "Summons service: unpaid past the deadline");
        font(cr, 9);
        text(cr, left, 56,
             agencyName + " · generated " + generated + " · " + std::to_string(lines.size()) +
                     " cases");
        textRight(cr, right, 40, "page " + std::to_string(page));
        y = 80;
        font(cr, 8, true);
        double x = left;
        for (const Col &c : cols) {
            text(cr, x, y, c.title);
            x += c.width + 4;
        }
        rule(cr, left, y + 4, right, 0.3);
        y += 17;
    };
    header();
    if (lines.empty()) {
        font(cr, 10);
        text(cr, left, y + 4, "No unpaid citations past their deadline.");
    }
    for (const SummonsLine &l : lines) {
        if (y > h - 50) {
            cairo_show_page(cr);
            header();
        }
        const std::string cells[] = {l.caseId, l.number,    l.name,    l.address,     l.phone,
                                     l.plate,  l.violation, l.dueDate, l.daysOverdue, l.balance};
        font(cr, 8);
        ink(cr);
        double x = left;
        for (size_t i = 0; i < std::size(cols); ++i) {
            text(cr, x, y, fit(cr, cells[i], cols[i].width));
            x += cols[i].width + 4;
        }
        if (!l.lastContact.empty()) {
            font(cr, 7);
            ink(cr, 0.4);
            text(cr, left + 38, y + 10, fit(cr, "last contact: " + l.lastContact, right - left));
            y += 10;
        }
        rule(cr, left, y + 5, right, 0.85);
        y += 17;
    }
    cairo_show_page(cr);
    return pdf.finish();
}

} /* namespace stopline::backoffice */
