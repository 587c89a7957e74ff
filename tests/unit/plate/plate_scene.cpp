#include "tests/unit/plate/plate_scene.h"

#include <algorithm>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace stopline::test {

namespace {

/* Draws text filling `box` of `img`: rendered at its natural Hershey proportions and
 * squeezed to the box, as plate fonts are condensed. */
void drawCondensedText(cv::Mat &img, const cv::Rect &box, const std::string &text,
                       const cv::Scalar &color, double strokePerHeight)
{
    const int renderH = 100;
    const int thickness = std::max(1, cvRound(strokePerHeight * renderH));
    int base = 0;
    cv::Size one = cv::getTextSize(text, cv::FONT_HERSHEY_DUPLEX, 1.0, thickness, &base);
    double scale = double(renderH) / one.height;
    cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_DUPLEX, scale, thickness, &base);
    cv::Mat ink(size.height + 2 * thickness, size.width + 2 * thickness, CV_8U, cv::Scalar(0));
    cv::putText(ink, text, {thickness, thickness + size.height}, cv::FONT_HERSHEY_DUPLEX, scale,
                cv::Scalar(255), thickness, cv::LINE_AA);
    cv::Mat alpha;
    cv::resize(ink(cv::boundingRect(ink)), alpha, box.size(), 0, 0, cv::INTER_AREA);
    cv::Mat roi = img(box);
    for (int y = 0; y < roi.rows; ++y) {
        for (int x = 0; x < roi.cols; ++x) {
            double a = alpha.at<std::uint8_t>(y, x) / 255.0;
            cv::Vec3b &p = roi.at<cv::Vec3b>(y, x);
            for (int k = 0; k < 3; ++k)
                p[k] = cv::saturate_cast<std::uint8_t>((1 - a) * p[k] + a * color[k]);
        }
    }
}

void drawPlate(cv::Mat &img, const cv::Rect &plate, const SceneSpec &spec)
{
    const int W = plate.width, H = plate.height;
    cv::Mat tile(H, W, CV_8UC3, cv::Scalar(232, 236, 238));
    if (spec.simStyle) {
        /* The simulator's template (sim/renderer.cpp at the time of writing): a coloured
         * border, a state band, and Hershey duplex characters as wide as the font
         * makes them, which leaves them short (about a third of the plate) and bold. */
        int border = std::max(1, W / 50);
        cv::rectangle(tile, {0, 0}, {W - 1, H - 1}, cv::Scalar(110, 60, 30), border);
        double small = 0.0022 * W;
        int base = 0;
        cv::Size band = cv::getTextSize("STOPLINE", cv::FONT_HERSHEY_SIMPLEX, small, 1, &base);
        cv::putText(tile, "STOPLINE", {(W - band.width) / 2, H / 12 + band.height},
                    cv::FONT_HERSHEY_SIMPLEX, small, cv::Scalar(40, 40, 170), 1, cv::LINE_AA);
        int thickness = std::max(1, cvRound(9.0 * W / 400));
        cv::Size one = cv::getTextSize(spec.text, cv::FONT_HERSHEY_DUPLEX, 1.0, thickness, &base);
        double scale = std::min(0.86 * W / one.width, 0.46 * H / one.height);
        cv::Size size =
                cv::getTextSize(spec.text, cv::FONT_HERSHEY_DUPLEX, scale, thickness, &base);
        cv::putText(tile, spec.text, {(W - size.width) / 2, H / 2 + size.height / 2 + H / 11},
                    cv::FONT_HERSHEY_DUPLEX, scale, cv::Scalar(90, 35, 15), thickness, cv::LINE_AA);
    } else {
        /* A US plate: thin frame, characters 45% of the height and 80% of the width. */
        cv::rectangle(tile, {0, 0}, {W - 1, H - 1}, cv::Scalar(150, 150, 150), 1);
        cv::Rect chars(W / 10, cvRound(0.30 * H), W - 2 * (W / 10), cvRound(0.45 * H));
        drawCondensedText(tile, chars, spec.text, cv::Scalar(60, 30, 20), 0.13);
    }
    tile.copyTo(img(plate));
}

} // namespace

Scene renderScene(const SceneSpec &spec)
{
    Scene scene;
    cv::Mat img(spec.size, CV_8UC3);
    /* road: a vertical gradient of grey */
    for (int y = 0; y < img.rows; ++y) {
        int v = 90 + 60 * y / img.rows;
        img.row(y).setTo(cv::Scalar(v, v, v + 5));
    }
    /* a car of real proportions around the plate (plate 0.3 m, car 1.8 m wide) */
    const int pw = spec.plateWidth, ph = spec.plateWidth / 2;
    const cv::Point c = spec.plateCentre;
    const int carW = 6 * pw, carTop = c.y - 3 * pw, carBottom = c.y + pw;
    cv::Rect body(c.x - carW / 2, carTop, carW, carBottom - carTop);
    cv::rectangle(img, body, spec.carColor, cv::FILLED);
    cv::Rect window(c.x - carW * 4 / 10, carTop + pw / 3, carW * 8 / 10, pw);
    cv::rectangle(img, window, cv::Scalar(50, 45, 40), cv::FILLED);
    for (int side : {-1, 1}) {
        cv::Rect light(c.x + side * carW * 4 / 10 - pw / 3, c.y - pw, 2 * pw / 3, pw / 2);
        cv::rectangle(img, light, cv::Scalar(30, 30, 200), cv::FILLED);
    }
    cv::Rect bumper(c.x - carW / 2, c.y + ph, carW, pw / 3);
    cv::rectangle(img, bumper, cv::Scalar(25, 25, 25), cv::FILLED);
    cv::Rect shadow(c.x - carW / 2, carBottom, carW, pw / 4);
    cv::rectangle(img, shadow, cv::Scalar(20, 20, 20), cv::FILLED);

    if (spec.withPlate) {
        scene.plate = cv::Rect(c.x - pw / 2, c.y - ph / 2, pw, ph);
        drawPlate(img, scene.plate, spec);
    }
    if (spec.rotationDeg != 0) {
        cv::Mat rot = cv::getRotationMatrix2D(cv::Point2f(c), spec.rotationDeg, 1.0);
        cv::warpAffine(img, img, rot, img.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    }
    if (spec.blurSigma > 0)
        cv::GaussianBlur(img, img, cv::Size(), spec.blurSigma);
    if (spec.noiseSigma > 0) {
        cv::Mat noise(img.size(), CV_16SC3);
        cv::RNG rng(spec.seed);
        rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(spec.noiseSigma));
        cv::Mat wide;
        img.convertTo(wide, CV_16SC3);
        wide += noise;
        wide.convertTo(img, CV_8UC3);
    }
    if (spec.jpegQuality > 0) {
        std::vector<std::uint8_t> bytes;
        cv::imencode(".jpg", img, bytes, {cv::IMWRITE_JPEG_QUALITY, spec.jpegQuality});
        img = cv::imdecode(bytes, cv::IMREAD_COLOR);
    }
    scene.image = img;
    return scene;
}

} // namespace stopline::test
