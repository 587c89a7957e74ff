#include "sim/renderer.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <opencv2/imgproc.hpp>

namespace stopline::sim {

namespace {

constexpr double kNearM = 0.3;
constexpr int kShift = 4; /* fixed-point bits for sub-pixel polygon edges */
constexpr double kCrosswalkFrom = 1.0, kCrosswalkTo = 4.0, kCrossStreetFrom = 4.5;

/* US passenger plate: 12 x 6 in; motorcycle 7 x 4 in. */
constexpr double kPlateW = 0.305, kPlateH = 0.152;
constexpr double kMotoPlateW = 0.178, kMotoPlateH = 0.102;

const cv::Scalar kSky(215, 195, 170);
const cv::Scalar kGrass(70, 112, 82);
const cv::Scalar kSidewalk(168, 170, 172);
const cv::Scalar kAsphalt(88, 88, 92);
const cv::Scalar kWhite(228, 228, 228);
const cv::Scalar kYellow(40, 190, 225);
const cv::Scalar kLoopCut(55, 55, 58);

cv::Scalar shade(const std::array<int, 3> &bgr, double k)
{
    return cv::Scalar(std::min(255.0, bgr[0] * k), std::min(255.0, bgr[1] * k),
                      std::min(255.0, bgr[2] * k));
}

/* Sutherland-Hodgman against one half-plane a*x + b*y + c >= 0. */
std::vector<cv::Point2d> clipHalf(const std::vector<cv::Point2d> &in, double a, double b, double c)
{
    std::vector<cv::Point2d> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const cv::Point2d &p = in[i], &q = in[(i + 1) % in.size()];
        double dp = a * p.x + b * p.y + c, dq = a * q.x + b * q.y + c;
        if (dp >= 0)
            out.push_back(p);
        if ((dp >= 0) != (dq >= 0)) {
            double t = dp / (dp - dq);
            out.push_back(p + (q - p) * t);
        }
    }
    return out;
}

void fill(cv::Mat &img, std::vector<cv::Point2d> poly, const cv::Scalar &color,
          cv::Point offset = {0, 0})
{
    if (poly.size() < 3)
        return;
    for (auto &p : poly)
        p -= cv::Point2d(offset.x, offset.y);
    /* Keep coordinates sane for the fixed-point rasterizer. */
    const double m = 64;
    poly = clipHalf(poly, 1, 0, m);
    poly = clipHalf(poly, -1, 0, img.cols + m);
    poly = clipHalf(poly, 0, 1, m);
    poly = clipHalf(poly, 0, -1, img.rows + m);
    if (poly.size() < 3)
        return;
    std::vector<cv::Point> pts;
    pts.reserve(poly.size());
    for (const auto &p : poly)
        pts.emplace_back(static_cast<int>(std::lround(p.x * (1 << kShift))),
                         static_cast<int>(std::lround(p.y * (1 << kShift))));
    cv::fillConvexPoly(img, pts, color, cv::LINE_AA, kShift);
}

double dot(const cv::Point3d &a, const cv::Point3d &b)
{
    return a.dot(b);
}

} /* namespace */

CameraModel::CameraModel(const CameraSpec &spec, double defaultLateralM)
    : width_(spec.width), height_(spec.height)
{
    pos_ = {spec.positionM, spec.lateralM.value_or(defaultLateralM), spec.heightM};
    double psi = spec.yawDeg * M_PI / 180, theta = spec.pitchDeg * M_PI / 180;
    forward_ = {std::cos(theta) * std::cos(psi), std::cos(theta) * std::sin(psi), -std::sin(theta)};
    right_ = {std::sin(psi), -std::cos(psi), 0};
    cv::Point3d up = right_.cross(forward_);
    down_ = -up;
    focal_ = (width_ / 2.0) / std::tan(spec.hfovDeg * M_PI / 360);
}

cv::Point3d CameraModel::toCamera(const WorldPoint &p) const
{
    cv::Point3d d(p.x - pos_.x, p.y - pos_.y, p.z - pos_.z);
    return {dot(d, right_), dot(d, down_), dot(d, forward_)};
}

cv::Point2d CameraModel::toPixel(const cv::Point3d &c) const
{
    return {width_ / 2.0 + focal_ * c.x / c.z, height_ / 2.0 + focal_ * c.y / c.z};
}

std::optional<cv::Point2d> CameraModel::project(const WorldPoint &p) const
{
    cv::Point3d c = toCamera(p);
    if (c.z < kNearM)
        return std::nullopt;
    return toPixel(c);
}

std::vector<cv::Point2d> CameraModel::projectPolygon(const std::vector<WorldPoint> &poly) const
{
    std::vector<cv::Point3d> in, clipped;
    for (const auto &p : poly)
        in.push_back(toCamera(p));
    for (std::size_t i = 0; i < in.size(); ++i) {
        const cv::Point3d &p = in[i], &q = in[(i + 1) % in.size()];
        bool pin = p.z >= kNearM, qin = q.z >= kNearM;
        if (pin)
            clipped.push_back(p);
        if (pin != qin) {
            double t = (kNearM - p.z) / (q.z - p.z);
            clipped.push_back(p + (q - p) * t);
        }
    }
    std::vector<cv::Point2d> out;
    for (const auto &c : clipped)
        out.push_back(toPixel(c));
    return out;
}

Renderer::Renderer(const Scenario &scenario, const CameraSpec &spec)
    : scenario_(scenario), approach_(*scenario.findApproach(spec.approach)), spec_(spec),
      camera_(spec, approach_.lanes.size() * approach_.laneWidthM / 2)
{
    drawBackground();
}

void Renderer::drawGround(cv::Mat &img, const std::vector<WorldPoint> &poly,
                          const cv::Scalar &color)
{
    fill(img, camera_.projectPolygon(poly), color);
}

void Renderer::drawBackground()
{
    const double w = approach_.laneWidthM;
    const double n = static_cast<double>(approach_.lanes.size());
    const double roadW = 2 * n * w; /* this approach and the opposing lanes */
    const double crossTo = kCrossStreetFrom + approach_.crossStreetM;
    const double far = 3000;

    cv::Mat img(camera_.height(), camera_.width(), CV_8UC3, kSky);
    auto rect = [&](double x0, double x1, double y0, double y1, const cv::Scalar &c) {
        drawGround(img, {{x0, y0, 0}, {x1, y0, 0}, {x1, y1, 0}, {x0, y1, 0}}, c);
    };
    rect(-far, far, -far, far, kGrass);
    rect(-far, kCrossStreetFrom - 3, -3, roadW + 3, kSidewalk);
    rect(crossTo + 3, far, -3, roadW + 3, kSidewalk);
    rect(kCrossStreetFrom - 3, crossTo + 3, -far, far, kSidewalk);
    rect(-far, kCrossStreetFrom, 0, roadW, kAsphalt);
    rect(crossTo, far, 0, roadW, kAsphalt);
    rect(kCrossStreetFrom, crossTo, -far, far, kAsphalt);

    /* Lane lines: dashed white between lanes of one direction, double yellow centre. */
    for (int side = 0; side < 2; ++side)
        for (int i = 1; i < n; ++i) {
            double y = side * n * w + i * w;
            for (double x = -approach_.lengthM - 60; x < -8; x += 12)
                rect(x, x + 3, y - 0.06, y + 0.06, kWhite);
            for (double x = crossTo + 2; x < crossTo + 200; x += 12)
                rect(x, x + 3, y - 0.06, y + 0.06, kWhite);
        }
    for (double dy : {-0.18, 0.08}) {
        rect(-far, 0, n * w + dy, n * w + dy + 0.1, kYellow);
        rect(crossTo, far, n * w + dy, n * w + dy + 0.1, kYellow);
    }
    /* Stop line (its far edge is x = 0, where "crossing" is measured) and crosswalk. */
    rect(-0.45, 0, 0, n * w, kWhite);
    for (double y = 0.3; y < roadW - 0.3; y += 1.2)
        rect(kCrosswalkFrom, kCrosswalkTo, y, y + 0.6, kWhite);
    /* Loop saw-cuts: thin dark outlines in the lane. */
    for (const auto &lane : approach_.lanes) {
        double yc = (lane.number - 0.5) * w;
        for (int exit = 0; exit < 2; ++exit) {
            const auto &loop = exit ? lane.exitLoop : lane.entryLoop;
            if (!loop)
                continue;
            double x0 = exit ? loop->distanceM : -loop->distanceM - loop->lengthM;
            double x1 = x0 + loop->lengthM;
            double y0 = yc - 0.9, y1 = yc + 0.9, t = 0.04;
            rect(x0, x1, y0, y0 + t, kLoopCut);
            rect(x0, x1, y1 - t, y1, kLoopCut);
            rect(x0, x0 + t, y0, y1, kLoopCut);
            rect(x1 - t, x1, y0, y1, kLoopCut);
        }
    }
    /* A little sensor noise so the road is not a flat colour. */
    cv::Mat noise(img.size(), CV_16SC3);
    cv::RNG rng(scenario_.seed);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(4));
    cv::Mat img16;
    img.convertTo(img16, CV_16SC3);
    img16 += noise;
    img16.convertTo(background_, CV_8UC3);
}

const cv::Mat &Renderer::plateTemplate(const std::string &text)
{
    auto it = plates_.find(text);
    if (it != plates_.end())
        return it->second;
    const int W = 400, H = 200;
    cv::Mat plate(H, W, CV_8UC3, cv::Scalar(244, 244, 240));
    cv::rectangle(plate, {0, 0}, {W - 1, H - 1}, cv::Scalar(110, 60, 30), 8);
    /* state band */
    int base = 0;
    double small = 0.9;
    cv::Size band = cv::getTextSize("STOPLINE", cv::FONT_HERSHEY_SIMPLEX, small, 2, &base);
    cv::putText(plate, "STOPLINE", {(W - band.width) / 2, 16 + band.height},
                cv::FONT_HERSHEY_SIMPLEX, small, cv::Scalar(40, 40, 170), 2, cv::LINE_AA);
    /* characters: about half the plate height, as on a US plate */
    int thickness = 9;
    cv::Size one = cv::getTextSize(text, cv::FONT_HERSHEY_DUPLEX, 1.0, thickness, &base);
    double scale = std::min(0.86 * W / one.width, 0.46 * H / one.height);
    cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_DUPLEX, scale, thickness, &base);
    cv::putText(plate, text, {(W - size.width) / 2, H / 2 + size.height / 2 + 18},
                cv::FONT_HERSHEY_DUPLEX, scale, cv::Scalar(90, 35, 15), thickness, cv::LINE_AA);
    return plates_.emplace(text, plate).first->second;
}

std::vector<Renderer::Face> Renderer::vehicleFaces(const SceneVehicle &v) const
{
    const VehicleSpec &s = v.plan->spec;
    const double L = s.lengthM, W = s.widthM, H = s.heightM;
    const double ch = std::cos(v.pose.heading), sh = std::sin(v.pose.heading);
    /* point at `along` metres from the rear, `left` from the centreline, height z */
    auto at = [&](double along, double left, double z) {
        double back = L - along;
        return WorldPoint{v.pose.x - back * ch - left * sh, v.pose.y - back * sh + left * ch, z};
    };
    WorldPoint cam = camera_.position();
    /* Each box of the vehicle is drawn far to near (a truck's cab before its cargo box
     * when seen from behind); within a box only the faces turned to the camera. */
    struct Part
    {
        std::vector<Face> faces;
        double dist;
    };
    std::vector<Part> parts;
    const cv::Scalar glass(58, 50, 46);
    auto box = [&](double a0, double a1, double halfW, double z0, double z1,
                   const cv::Scalar &color, bool windows) {
        struct Side
        {
            std::vector<WorldPoint> poly;
            double k;
            std::vector<WorldPoint> window;
        };
        WorldPoint RR0 = at(a0, -halfW, z0), RL0 = at(a0, halfW, z0), FR0 = at(a1, -halfW, z0),
                   FL0 = at(a1, halfW, z0);
        WorldPoint RR1 = at(a0, -halfW, z1), RL1 = at(a0, halfW, z1), FR1 = at(a1, -halfW, z1),
                   FL1 = at(a1, halfW, z1);
        /* tall boxes (bus, cab) have their glass in the upper part only */
        double wz0 = z1 - z0 > 1.5 ? z0 + 0.5 * (z1 - z0) : z0 + 0.08;
        double wz1 = z1 - 0.06, wl = halfW - 0.1;
        double wa0 = a0 + 0.12 * (a1 - a0), wa1 = a1 - 0.12 * (a1 - a0);
        std::vector<Side> sides{
                {{RR0, RL0, RL1, RR1},
                 0.8,
                 {at(a0, -wl, wz0), at(a0, wl, wz0), at(a0, wl, wz1), at(a0, -wl, wz1)}},
                {{FR0, FL0, FL1, FR1},
                 0.9,
                 {at(a1, -wl, wz0), at(a1, wl, wz0), at(a1, wl, wz1), at(a1, -wl, wz1)}},
                {{RL0, FL0, FL1, RL1},
                 0.65,
                 {at(wa0, halfW, wz0), at(wa1, halfW, wz0), at(wa1, halfW, wz1),
                  at(wa0, halfW, wz1)}},
                {{RR0, FR0, FR1, RR1},
                 0.65,
                 {at(wa0, -halfW, wz0), at(wa1, -halfW, wz0), at(wa1, -halfW, wz1),
                  at(wa0, -halfW, wz1)}},
                {{RR1, RL1, FL1, FR1}, 1.0, {}}};
        WorldPoint mid = at((a0 + a1) / 2, 0, (z0 + z1) / 2);
        Part part{{}, std::hypot(mid.x - cam.x, mid.y - cam.y, mid.z - cam.z)};
        for (const auto &side : sides) {
            /* outward normal from the box centre through the face centre */
            WorldPoint c{0, 0, 0};
            for (const auto &p : side.poly)
                c = {c.x + p.x / 4, c.y + p.y / 4, c.z + p.z / 4};
            cv::Point3d normal(c.x - mid.x, c.y - mid.y, c.z - mid.z);
            cv::Point3d toCam(cam.x - c.x, cam.y - c.y, cam.z - c.z);
            if (normal.dot(toCam) <= 0)
                continue;
            part.faces.push_back(
                    {camera_.projectPolygon(side.poly),
                     cv::Scalar(color[0] * side.k, color[1] * side.k, color[2] * side.k)});
            if (windows && !side.window.empty())
                part.faces.push_back(
                        {camera_.projectPolygon(side.window),
                         cv::Scalar(glass[0] * side.k, glass[1] * side.k, glass[2] * side.k)});
        }
        parts.push_back(std::move(part));
    };
    cv::Scalar paint = shade(s.colorBgr, 1.0);
    cv::Scalar cabin = shade(s.colorBgr, 0.92);
    switch (s.cls) {
    case VehicleClass::Car:
        box(0, L, W / 2, 0.28, 0.95, paint, false);
        box(0.14 * L, 0.72 * L, W / 2 - 0.1, 0.95, H, cabin, true);
        break;
    case VehicleClass::Suv:
        box(0, L, W / 2, 0.35, 1.05, paint, false);
        box(0.04 * L, 0.74 * L, W / 2 - 0.08, 1.05, H, cabin, true);
        break;
    case VehicleClass::Truck:
        box(0, L, W / 2 - 0.1, 0.35, 0.9, cv::Scalar(50, 50, 50), false);
        box(0, 0.76 * L, W / 2, 0.9, H, shade({215, 215, 215}, 1.0), false);
        box(0.8 * L, L, W / 2, 0.5, H - 0.4, paint, true);
        break;
    case VehicleClass::Bus:
        box(0, L, W / 2, 0.3, H, paint, true);
        break;
    case VehicleClass::Motorcycle:
        box(0, L, W / 4, 0.3, 1.0, paint, false);
        box(0.3 * L, 0.7 * L, W / 4, 1.0, H, cv::Scalar(40, 40, 40), false);
        break;
    }
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part &x, const Part &y) { return x.dist > y.dist; });
    std::vector<Face> faces;
    for (auto &p : parts)
        for (auto &f : p.faces)
            faces.push_back(std::move(f));
    return faces;
}

std::vector<PlateBox> Renderer::render(const Scene &scene, cv::Mat &image)
{
    background_.copyTo(image);
    drawHeads(scene, image);

    WorldPoint cam = camera_.position();
    std::vector<const SceneVehicle *> order;
    for (const auto &v : scene.vehicles)
        order.push_back(&v);
    auto dist = [&](const SceneVehicle *v) {
        return std::hypot(v->pose.x - cam.x, v->pose.y - cam.y);
    };
    std::sort(order.begin(), order.end(),
              [&](const SceneVehicle *a, const SceneVehicle *b) { return dist(a) > dist(b); });

    struct Drawn
    {
        const SceneVehicle *v;
        std::vector<Face> faces;
        std::optional<PlateBox> plate;
    };
    std::vector<Drawn> drawn;
    for (const SceneVehicle *v : order) {
        const VehicleSpec &s = v->plan->spec;
        Drawn d{v, vehicleFaces(*v), std::nullopt};
        /* Shadow first, so the vehicle sits on the road. */
        {
            double ch = std::cos(v->pose.heading), sh = std::sin(v->pose.heading);
            auto g = [&](double back, double left) {
                return WorldPoint{v->pose.x - back * ch - left * sh,
                                  v->pose.y - back * sh + left * ch, 0.01};
            };
            double hw = s.widthM / 2 + 0.1;
            fill(image,
                 camera_.projectPolygon({g(s.lengthM + 0.1, hw), g(s.lengthM + 0.1, -hw),
                                         g(-0.1, -hw), g(-0.1, hw)}),
                 cv::Scalar(45, 45, 48));
        }
        for (const auto &f : d.faces)
            fill(image, f.poly, f.color);

        /* Rear details: lights and the plate, when the rear faces the camera. */
        double ch = std::cos(v->pose.heading), sh = std::sin(v->pose.heading);
        WorldPoint rear{v->pose.x - s.lengthM * ch, v->pose.y - s.lengthM * sh, 0};
        cv::Point3d toCam(cam.x - rear.x, cam.y - rear.y, 0);
        if (toCam.dot(cv::Point3d(-ch, -sh, 0)) > 0) {
            auto onRear = [&](double left, double z) {
                return WorldPoint{rear.x - 0.02 * ch - left * sh, rear.y - 0.02 * sh + left * ch,
                                  z};
            };
            if (s.cls != VehicleClass::Motorcycle && s.cls != VehicleClass::Truck) {
                double lw = 0.28, z0 = 0.72, z1 = 0.86;
                for (double side : {-1.0, 1.0}) {
                    double o = side * (s.widthM / 2 - 0.06), i = side * (s.widthM / 2 - 0.06 - lw);
                    fill(image,
                         camera_.projectPolygon(
                                 {onRear(o, z0), onRear(i, z0), onRear(i, z1), onRear(o, z1)}),
                         cv::Scalar(30, 30, 170));
                }
            }
            bool moto = s.cls == VehicleClass::Motorcycle;
            double pw = moto ? kMotoPlateW : kPlateW, ph = moto ? kMotoPlateH : kPlateH;
            double zc = s.cls == VehicleClass::Car ? 0.48 : 0.58;
            /* corners: top-left, top-right, bottom-right, bottom-left as seen from behind */
            std::vector<WorldPoint> quad{onRear(pw / 2, zc + ph / 2), onRear(-pw / 2, zc + ph / 2),
                                         onRear(-pw / 2, zc - ph / 2), onRear(pw / 2, zc - ph / 2)};
            std::vector<cv::Point2f> px;
            for (const auto &q : quad)
                if (auto p = camera_.project(q))
                    px.emplace_back(static_cast<float>(p->x), static_cast<float>(p->y));
            if (px.size() == 4) {
                float x0 = px[0].x, x1 = px[0].x, y0 = px[0].y, y1 = px[0].y;
                for (const auto &p : px) {
                    x0 = std::min(x0, p.x);
                    x1 = std::max(x1, p.x);
                    y0 = std::min(y0, p.y);
                    y1 = std::max(y1, p.y);
                }
                cv::Rect box(static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0)),
                             static_cast<int>(std::ceil(x1) - std::floor(x0)),
                             static_cast<int>(std::ceil(y1) - std::floor(y0)));
                cv::Rect frame(0, 0, image.cols, image.rows);
                cv::Rect roi = box & frame;
                if (roi.area() > 0) {
                    if (box.width < 10) {
                        std::vector<cv::Point2d> poly(px.begin(), px.end());
                        fill(image, poly, cv::Scalar(235, 235, 232));
                    } else {
                        const cv::Mat &tpl = plateTemplate(s.plate);
                        cv::Mat src = tpl;
                        if (box.width * 1.5 < tpl.cols)
                            cv::resize(tpl, src,
                                       cv::Size(std::max(8, box.width * 3 / 2),
                                                std::max(4, box.width * 3 / 4)),
                                       0, 0, cv::INTER_AREA);
                        std::vector<cv::Point2f> from{
                                {0, 0},
                                {static_cast<float>(src.cols), 0},
                                {static_cast<float>(src.cols), static_cast<float>(src.rows)},
                                {0, static_cast<float>(src.rows)}};
                        std::vector<cv::Point2f> to;
                        for (const auto &p : px)
                            to.emplace_back(p.x - roi.x, p.y - roi.y);
                        cv::Mat H = cv::getPerspectiveTransform(from, to);
                        cv::Mat target = image(roi);
                        cv::warpPerspective(src, target, H, roi.size(), cv::INTER_LINEAR,
                                            cv::BORDER_TRANSPARENT);
                    }
                }
                if (box == roi && box.width >= spec_.plateMinPx)
                    d.plate = PlateBox{s.id, s.plate, box, 0};
            }
        }
        drawn.push_back(std::move(d));
    }

    /* Occlusion: how much of each plate box nearer vehicles cover. */
    std::vector<PlateBox> plates;
    for (std::size_t i = 0; i < drawn.size(); ++i) {
        if (!drawn[i].plate)
            continue;
        PlateBox pb = *drawn[i].plate;
        cv::Mat mask = cv::Mat::zeros(pb.box.size(), CV_8UC1);
        for (std::size_t j = i + 1; j < drawn.size(); ++j)
            for (const auto &f : drawn[j].faces)
                fill(mask, f.poly, cv::Scalar(255), pb.box.tl());
        pb.occluded = static_cast<double>(cv::countNonZero(mask)) / pb.box.area();
        if (pb.occluded < 0.5)
            plates.push_back(pb);
    }
    return plates;
}

void Renderer::drawHeads(const Scene &scene, cv::Mat &img) const
{
    /* An inset in the top-right corner, the way a data bar shows the signal state: one
     * three-lamp head per signal head, the camera approach's head first. */
    double k = img.rows / 720.0;
    int r = std::max(3, static_cast<int>(std::lround(10 * k)));
    int boxW = 3 * r, boxH = 7 * r, gap = 2 * r;
    std::vector<std::pair<std::string, std::uint8_t>> heads = scene.lamps;
    std::stable_partition(heads.begin(), heads.end(),
                          [&](const auto &h) { return h.first == approach_.head; });
    int x = img.cols - gap - boxW;
    for (const auto &[name, lamps] : heads) {
        if (x < 0)
            break;
        int y = gap;
        cv::rectangle(img, {x, y}, {x + boxW, y + boxH}, cv::Scalar(25, 25, 25), cv::FILLED);
        cv::rectangle(img, {x, y}, {x + boxW, y + boxH}, cv::Scalar(20, 170, 210),
                      std::max(1, r / 5));
        const cv::Scalar lit[3] = {{40, 40, 235}, {30, 200, 245}, {110, 230, 70}};
        const cv::Scalar off[3] = {{30, 30, 70}, {30, 60, 75}, {40, 70, 40}};
        const std::uint8_t bits[3] = {kLampRed, kLampYellow, kLampGreen};
        for (int i = 0; i < 3; ++i)
            cv::circle(img, {x + boxW / 2, y + r + i * 2 * r + r / 2}, r * 4 / 5,
                       (lamps & bits[i]) ? lit[i] : off[i], cv::FILLED, cv::LINE_AA);
        cv::putText(img, name, {x, y + boxH + gap}, cv::FONT_HERSHEY_SIMPLEX, 0.4 * k,
                    cv::Scalar(240, 240, 240), 1, cv::LINE_AA);
        x -= boxW + gap;
    }
}

Json Renderer::geometry() const
{
    Json lanes = Json::array();
    for (const auto &lane : approach_.lanes) {
        double y0 = (lane.number - 1) * approach_.laneWidthM, y1 = y0 + approach_.laneWidthM;
        auto a = camera_.project({0, y0, 0}), b = camera_.project({0, y1, 0});
        Json l{{"lane", lane.number}};
        if (a && b)
            l["stop_line_px"] = Json::array({Json::array({std::round(a->x), std::round(a->y)}),
                                             Json::array({std::round(b->x), std::round(b->y)})});
        lanes.push_back(l);
    }
    /* What an installer marks in a snapshot to calibrate the camera: painted features
     * whose road position is known, where they land in the image (to the pixel, as
     * clicked), and the lanes' bands across the road. */
    const double w = approach_.laneWidthM;
    std::vector<std::pair<double, double>> features;
    for (std::size_t k = 0; k <= approach_.lanes.size(); ++k)
        features.push_back({0.0, k * w});
    for (const auto &lane : approach_.lanes) {
        const double yc = (lane.number - 0.5) * w;
        for (int exit = 0; exit < 2; ++exit) {
            const auto &loop = exit ? lane.exitLoop : lane.entryLoop;
            if (!loop)
                continue;
            const double x0 = exit ? loop->distanceM : -loop->distanceM - loop->lengthM;
            for (double x : {x0, x0 + loop->lengthM})
                for (double y : {yc - 0.9, yc + 0.9})
                    features.push_back({x, y});
        }
    }
    Json marks = Json::array(), bands = Json::array();
    for (const auto &[x, y] : features) {
        auto px = camera_.project({x, y, 0});
        if (px && px->x >= 4 && px->y >= 4 && px->x <= camera_.width() - 5 &&
            px->y <= camera_.height() - 5)
            marks.push_back(Json::array({x, y, std::round(px->x), std::round(px->y)}));
    }
    for (const auto &lane : approach_.lanes)
        bands.push_back(Json{{"lane", lane.number},
                             {"from_m", (lane.number - 1) * w},
                             {"to_m", lane.number * w}});
    /* Where a rear plate in the lanes' middle is whole in the frame and at least 28 px
     * wide: the photo zone an installer would choose from the snapshot. */
    auto readableAt = [&](const LaneSpec &lane, double x) {
        const double yc = (lane.number - 0.5) * w;
        auto l = camera_.project({x, yc + kPlateW / 2, 0.4}),
             r = camera_.project({x, yc - kPlateW / 2, 0.6});
        return l && r && l->x >= 0 && r->x < camera_.width() && l->y >= 0 && r->y >= 0 &&
               l->y < camera_.height() && r->y < camera_.height() && std::fabs(r->x - l->x) >= 28;
    };
    auto span = [&](const std::function<bool(double)> &readable) {
        std::optional<double> from, to;
        for (double x = -40; x <= 80; x += 0.5)
            if (readable(x)) {
                if (!from)
                    from = x;
                to = x;
            }
        return from ? Json::array({*from, *to}) : Json();
    };
    Json byLane = Json::object();
    for (const auto &lane : approach_.lanes)
        byLane[std::to_string(lane.number)] = span([&](double x) { return readableAt(lane, x); });
    const Json zone = span([&](double x) {
        return std::all_of(approach_.lanes.begin(), approach_.lanes.end(),
                           [&](const LaneSpec &l) { return readableAt(l, x); });
    });
    WorldPoint p = camera_.position();
    return Json{{"approach", approach_.name},
                {"marks", marks},
                {"lane_bands", bands},
                {"plate_zone_m", zone},
                {"plate_zone_by_lane_m", byLane},
                {"width", camera_.width()},
                {"height", camera_.height()},
                {"focal_px", camera_.focalPx()},
                {"position_m", Json::array({p.x, p.y, p.z})},
                {"pitch_deg", spec_.pitchDeg},
                {"yaw_deg", spec_.yawDeg},
                {"lanes", lanes}};
}

} /* namespace stopline::sim */
