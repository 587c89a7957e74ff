/* Citation and rental-notice PDFs rendered with Cairo, rasterized with pdftoppm
 * (poppler-utils): the vehicle photo, the second photo, the plate crop and the
 * reviewer's signature must be visible where the layout put them, and a document
 * without them must show those regions empty (so the check can fail). The PNGs stay in
 * the build tree as artifacts. */

#include <sys/wait.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <cairo.h>
#include <jpeglib.h>

#include "backoffice/citations/citation_pdf.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
namespace fs = std::filesystem;

namespace {

/* A synthetic road scene: sky-to-asphalt gradient, a car, a light plate with dark
 * characters. Encoded with libjpeg, independently of the renderer's decoder. */
std::string sceneJpeg(int w, int h, bool plateOnly)
{
    std::vector<unsigned char> rgb(size_t(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            unsigned char *p = &rgb[(size_t(y) * w + x) * 3];
            int g = plateOnly ? 235 : 60 + 120 * y / h;
            p[0] = p[1] = p[2] = static_cast<unsigned char>(g);
            bool car = !plateOnly && x > w / 3 && x < 2 * w / 3 && y > h / 3 && y < 5 * h / 6;
            if (car) {
                p[0] = 150;
                p[1] = 30;
                p[2] = 30;
            }
            bool bar =
                    (plateOnly ? (y > h / 4 && y < 3 * h / 4) : (y > 2 * h / 3 && y < 3 * h / 4)) &&
                    (x / (w / 16)) % 2 == 0;
            if (bar)
                p[0] = p[1] = p[2] = 15;
        }
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = static_cast<JDIMENSION>(w);
    c.image_height = static_cast<JDIMENSION>(h);
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 85, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = &rgb[size_t(c.next_scanline) * w * 3];
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    std::string bytes(reinterpret_cast<char *>(out), size);
    std::free(out);
    return bytes;
}

cairo_status_t appendPng(void *closure, const unsigned char *data, unsigned int length)
{
    static_cast<std::string *>(closure)->append(reinterpret_cast<const char *>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

/* A handwritten-looking signature as a PNG (transparent background). */
std::string signaturePng()
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 360, 90);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 0.05, 0.1, 0.35);
    cairo_set_line_width(cr, 4);
    cairo_move_to(cr, 10, 60);
    cairo_curve_to(cr, 60, 0, 90, 90, 140, 40);
    cairo_curve_to(cr, 180, 10, 220, 80, 260, 35);
    cairo_curve_to(cr, 290, 10, 320, 70, 350, 30);
    cairo_stroke(cr);
    cairo_destroy(cr);
    std::string png;
    cairo_surface_write_to_png_stream(s, appendPng, &png);
    cairo_surface_destroy(s);
    return png;
}

const char *kSignatureSvg =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"90\" viewBox=\"0 0 360 "
        "90\"><path d=\"M10 60 C 40 10, 60 90, 90 40 S 130 20, 150 55 S 190 70, 210 35 S 260 30, "
        "280 60 S 330 50, 350 30\" fill=\"none\" stroke=\"#123\" stroke-width=\"4\"/></svg>";

CitationDoc baseDoc()
{
    CitationDoc d;
    d.agencyName = "City Police Department · Photo Enforcement Program";
    d.number = "SL-000042";
    d.accessCode = "K7PQ2XMA";
    d.portalUrl = "https://pay.example.gov/photo";
    d.issuedDate = "2026-03-04";
    d.dueDate = "2026-04-03";
    d.amount = "$136.00";
    d.recipientName = "Jane Roe";
    d.recipientAddress = {"12 Main St", "Bellevue WA 98004"};
    d.violationType = "Red light: failure to stop at a steady red signal";
    d.violationTime = "2026-03-02 08:15:00 PST";
    d.location = "BEL-0142  NE 8th St & 112th Ave NE";
    d.approach = "northbound, lane 2";
    d.statute = "RCW 46.61.055  Failure to stop at a steady red indication";
    d.measurements = {{"Time into red", "1.30 s at photo 1, 2.50 s at photo 2"},
                      {"Yellow", "4.00 s measured (minimum 3.50 s)"}};
    d.plate = "ABC123 WA";
    d.vehicle = "2019 Toyota Camry, silver";
    d.reviewerName = "Officer Demo";
    d.reviewedDate = "2026-03-03";
    d.approvalHash = std::string(64, 'a');
    d.recordId = "cam-7-12";
    d.recordHash = std::string(64, 'b');
    return d;
}

struct Raster
{
    cairo_surface_t *surface = nullptr;
    explicit Raster(const std::string &path)
        : surface(cairo_image_surface_create_from_png(path.c_str()))
    {}
    ~Raster() { cairo_surface_destroy(surface); }
    bool ok() const { return cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS; }
    int width() const { return cairo_image_surface_get_width(surface); }
    int height() const { return cairo_image_surface_get_height(surface); }
};

struct RegionStats
{
    double stddev = 0;
    double inked = 0; /* share of pixels clearly darker than paper */
};

/* Luminance statistics inside `r` (points) on a page rasterized at `scale` px/pt,
 * a few pixels inside its edges (the frame is not the image). */
RegionStats regionStats(const Raster &img, const DocRect &r, double scale)
{
    cairo_surface_flush(img.surface);
    const unsigned char *data = cairo_image_surface_get_data(img.surface);
    int stride = cairo_image_surface_get_stride(img.surface);
    int x0 = static_cast<int>(std::ceil(r.x * scale)) + 4;
    int y0 = static_cast<int>(std::ceil(r.y * scale)) + 4;
    int x1 = static_cast<int>((r.x + r.w) * scale) - 4;
    int y1 = static_cast<int>((r.y + r.h) * scale) - 4;
    double sum = 0, sum2 = 0;
    long n = 0, inked = 0;
    for (int y = y0; y < y1 && y < img.height(); ++y)
        for (int x = x0; x < x1 && x < img.width(); ++x) {
            uint32_t px = reinterpret_cast<const uint32_t *>(data + size_t(y) * stride)[x];
            double l =
                    0.299 * ((px >> 16) & 0xff) + 0.587 * ((px >> 8) & 0xff) + 0.114 * (px & 0xff);
            sum += l;
            sum2 += l * l;
            inked += l < 200;
            ++n;
        }
    RegionStats s;
    if (n) {
        double mean = sum / n;
        s.stddev = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
        s.inked = static_cast<double>(inked) / n;
    }
    return s;
}

std::string shell(const std::string &command)
{
    std::string out;
    FILE *p = popen(command.c_str(), "r");
    if (!p)
        return out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;)
        out.append(buf, n);
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL(("command failed: " + command).c_str());
    return out;
}

} /* namespace */

TEST_GROUP(CitationPdf){};

TEST(CitationPdf, PhotosPlateAndSignatureAreOnThePageAndTheJpegIsEmbeddedAsIs)
{
    const std::string photoA = sceneJpeg(640, 360, false), photoB = sceneJpeg(640, 360, false);
    const std::string plate = sceneJpeg(328, 152, true);
    CitationDoc citation = baseDoc();
    citation.vehiclePhoto = {photoA, "image/jpeg"};
    citation.secondPhoto = {photoB, "image/jpeg"};
    citation.plateCrop = {plate, "image/jpeg"};
    citation.signature = {kSignatureSvg, "image/svg+xml"};
    CitationDoc notice = citation;
    notice.kind = "rental_notice";
    notice.number = "SL-N000043";
    notice.recipientName = "Speedy Rentals Inc";
    notice.dueDate = "2026-03-24";
    notice.signature = {signaturePng(), "image/png"};
    CitationDoc bare = baseDoc(); /* the control: nothing to show */
    bare.number = "SL-000044";

    std::vector<CitationLayout> layouts;
    std::string pdf = renderCitationsPdf({citation, notice, bare}, &layouts);
    LONGS_EQUAL(3, layouts.size());
    CHECK(pdf.rfind("%PDF-", 0) == 0);
    /* The evidence JPEG is in the PDF byte for byte (not re-encoded). */
    CHECK(pdf.find(photoA) != std::string::npos);
    CHECK(pdf.find(plate) != std::string::npos);

    fs::path dir = fs::path(STOPLINE_ARTIFACT_DIR);
    fs::create_directories(dir);
    fs::path file = dir / "citation.pdf";
    std::ofstream(file, std::ios::binary) << pdf;
    const double dpi = 100, scale = dpi / 72;
    shell("pdftoppm -r 100 -png '" + file.string() + "' '" + (dir / "citation").string() + "'");
    std::string text = shell("pdftotext -layout '" + file.string() + "' -");
    for (const char *words :
         {"NOTICE OF INFRACTION", "SL-000042", "$136.00", "2026-04-03",
          "https://pay.example.gov/photo", "K7PQ2XMA", "Officer Demo", "Jane Roe", "BEL-0142",
          "RCW 46.61.055", "ABC123 WA", "NOTICE TO RENTAL CAR BUSINESS", "18 days"})
        CHECK_TEXT(text.find(words) != std::string::npos, words);

    for (int page = 1; page <= 3; ++page) {
        fs::path png = dir / ("citation-" + std::to_string(page) + ".png");
        Raster img(png.string());
        CHECK_TEXT(img.ok(), png.c_str());
        LONGS_EQUAL(static_cast<long>(std::lround(layouts[page - 1].pageWidth * scale)),
                    img.width());
        const CitationLayout &l = layouts[page - 1];
        struct
        {
            const char *name;
            DocRect rect;
            double minStddev, minInked;
        } regions[] = {{"vehicle photo", l.vehiclePhoto, 20, 0.3},
                       {"second photo", l.secondPhoto, 20, 0.3},
                       {"plate crop", l.plateCrop, 20, 0.2},
                       {"signature", l.signature, 8, 0.01}};
        for (const auto &r : regions) {
            RegionStats s = regionStats(img, r.rect, scale);
            std::string what = "page " + std::to_string(page) + " " + r.name + ": stddev " +
                               std::to_string(s.stddev) + ", inked " + std::to_string(s.inked);
            if (page < 3) {
                CHECK_TEXT(s.stddev > r.minStddev && s.inked > r.minInked, what.c_str());
            } else {
                CHECK_TEXT(s.stddev < 1 && s.inked == 0, ("control " + what).c_str());
            }
        }
    }
    CHECK(text.find("signature not on file") != std::string::npos); /* the control says so */
}

TEST(CitationPdf, SummonsReportListsEveryLineAcrossPages)
{
    std::vector<SummonsLine> lines;
    for (int i = 1; i <= 45; ++i)
        lines.push_back({std::to_string(i), "SL-" + std::to_string(100000 + i),
                         "Person " + std::to_string(i), "1 Main St, Bellevue WA",
                         "425-555-01" + std::to_string(10 + i), "ABC" + std::to_string(i) + " WA",
                         "2026-03-02 red light", "2026-04-03", "3 d", "$136.00",
                         i % 2 ? "2026-04-04 no answer" : ""});
    std::string pdf = renderSummonsPdf("City Police Department", "2026-04-06 09:00", lines);
    fs::path dir = fs::path(STOPLINE_ARTIFACT_DIR);
    fs::create_directories(dir);
    fs::path file = dir / "summons.pdf";
    std::ofstream(file, std::ios::binary) << pdf;
    std::string text = shell("pdftotext -layout '" + file.string() + "' -");
    for (int i = 1; i <= 45; ++i)
        CHECK_TEXT(text.find("SL-" + std::to_string(100000 + i)) != std::string::npos,
                   ("line " + std::to_string(i)).c_str());
    CHECK(text.find("page 2") != std::string::npos);
    CHECK(text.find("45 cases") != std::string::npos);
}
