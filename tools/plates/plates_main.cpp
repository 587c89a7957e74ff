/* stopline-plates: measures the plate locator on a labelled folder (openalpr benchmark
 * format) and runs it on single images, so its figures can be reproduced by anyone. */

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline/plate/plate_locator.h"
#include "pipeline/plate/plate_rows.h"
#include "tools/plates/label_set.h"

namespace fs = std::filesystem;
using stopline::pipeline::PlateBox;
using stopline::pipeline::plateIou;
using stopline::pipeline::PlateLocator;

namespace {

/* Exit code that CTest's SKIP_RETURN_CODE maps to "skipped" (the automake convention). */
constexpr int kSkipExit = 77;

using Field = std::variant<int PlateLocator::Options::*, double PlateLocator::Options::*>;

const std::map<std::string, Field> &optionFields()
{
    using O = PlateLocator::Options;
    static const std::map<std::string, Field> fields = {
            {"maxCandidates", &O::maxCandidates},
            {"workSize", &O::workSize},
            {"minCharHeight", &O::minCharHeight},
            {"maxCharHeight", &O::maxCharHeight},
            {"minChars", &O::minChars},
            {"maxJoinGap", &O::maxJoinGap},
            {"minScore", &O::minScore},
            {"pyramidLevels", &O::pyramidLevels},
            {"runPerChar", &O::runPerChar},
            {"levelSpan", &O::levelSpan},
            {"lightOnDark", &O::lightOnDark},
            {"nmsOverlap", &O::nmsOverlap},
            {"plateHeightPerChar", &O::plateHeightPerChar},
            {"plateOffsetY", &O::plateOffsetY},
            {"refine", &O::refine},
            {"framed", &O::framed},
            {"framedContrast", &O::framedContrast},
            {"minPlateHeight", &O::minPlateHeight},
            {"framedScore", &O::framedScore},
    };
    return fields;
}

/* Applies `name=value` overrides so tuning runs need no rebuild. */
PlateLocator::Options parseOverrides(const std::vector<std::string> &sets)
{
    PlateLocator::Options options;
    for (const auto &set : sets) {
        auto eq = set.find('=');
        if (eq == std::string::npos)
            throw std::invalid_argument("--set expects name=value, got '" + set + "'");
        std::string name = set.substr(0, eq), value = set.substr(eq + 1);
        auto it = optionFields().find(name);
        if (it == optionFields().end()) {
            std::string known;
            for (const auto &[k, v] : optionFields())
                known += " " + k;
            throw std::invalid_argument("unknown option '" + name + "'; known:" + known);
        }
        try {
            std::size_t used = 0;
            if (auto p = std::get_if<int PlateLocator::Options::*>(&it->second)) {
                options.*(*p) = std::stoi(value, &used);
            } else {
                auto q = std::get<double PlateLocator::Options::*>(it->second);
                options.*q = std::stod(value, &used);
            }
            if (used != value.size())
                throw std::invalid_argument(value);
        } catch (const std::exception &) {
            throw std::invalid_argument("option '" + name + "' has a bad value '" + value + "'");
        }
    }
    return options;
}

struct EvalArgs
{
    std::string dir;
    std::string subset = "all";
    bool verbose = false;
    std::string dumpDir;
    std::string featuresFile;
    double minRecall50 = -1;
    double maxCandidates = -1;
    bool skipMissing = false;
    std::vector<std::string> sets;
};

/* CPU time of this thread: a steadier yardstick than wall time on a shared machine. */
double threadCpuMs()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void drawBox(cv::Mat &img, const cv::Rect &r, const cv::Scalar &color, int thickness)
{
    cv::rectangle(img, r, color, thickness);
}

int runEval(const EvalArgs &args)
{
    if (!fs::is_directory(args.dir)) {
        if (args.skipMissing) {
            std::cout << "skipped: data absent (" << args.dir << ")\n";
            return kSkipExit;
        }
        std::cerr << "stopline-plates: not a directory: " << args.dir << "\n";
        return 2;
    }
    PlateLocator::Options options = parseOverrides(args.sets);
    PlateLocator locator(options);
    cv::setNumThreads(1);

    std::vector<std::string> errors;
    std::vector<stopline::tools::PlateLabel> labels =
            stopline::tools::loadPlateLabels(args.dir, &errors);
    for (const auto &e : errors)
        std::cerr << "stopline-plates: skipped label " << e << "\n";

    FILE *features = nullptr;
    if (!args.featuresFile.empty()) {
        features = std::fopen(args.featuresFile.c_str(), "w");
        if (!features)
            throw std::runtime_error("cannot write " + args.featuresFile);
        std::fprintf(features, "image,index,x,y,w,h,iou");
        for (const char *name : stopline::pipeline::plate_detail::kRowFeatureNames)
            std::fprintf(features, ",%s", name);
        std::fprintf(features, "\n");
    }
    int images = 0, found50 = 0, found30 = 0, unreadable = 0;
    long candidates = 0;
    double totalMs = 0, totalCpuMs = 0;
    std::vector<double> perImageMs;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if ((args.subset == "even" && i % 2 != 0) || (args.subset == "odd" && i % 2 != 1))
            continue;
        const auto &label = labels[i];
        cv::Mat img = cv::imread(label.image.string(), cv::IMREAD_COLOR);
        if (img.empty()) {
            std::cerr << "stopline-plates: " << label.source << ": cannot read image "
                      << label.image << "\n";
            ++unreadable;
            continue;
        }
        double cpu0 = threadCpuMs();
        auto t0 = std::chrono::steady_clock::now();
        std::vector<PlateBox> boxes = locator.locate(img);
        auto t1 = std::chrono::steady_clock::now();
        totalCpuMs += threadCpuMs() - cpu0;
        double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        totalMs += ms;
        perImageMs.push_back(ms);
        ++images;
        candidates += static_cast<long>(boxes.size());
        double best = 0;
        int bestRank = -1;
        for (std::size_t k = 0; k < boxes.size(); ++k) {
            double iou = plateIou(boxes[k].box, label.box);
            if (iou > best) {
                best = iou;
                bestRank = static_cast<int>(k);
            }
        }
        found50 += best >= 0.5;
        found30 += best >= 0.3;

        if (features) {
            double scale = 1;
            cv::Mat work =
                    stopline::pipeline::plate_detail::workImage(img, options.workSize, &scale);
            auto rows = stopline::pipeline::plate_detail::proposeRows(work, options);
            if (rows.empty()) { /* a marker row so the image still counts in recall */
                std::fprintf(features, "%s,%zu,0,0,0,0,-1", label.source.c_str(), i);
                for (int k = 0; k < stopline::pipeline::plate_detail::kFeatureCount; ++k)
                    std::fprintf(features, ",0");
                std::fprintf(features, "\n");
            }
            for (const auto &row : rows) {
                const cv::Rect box =
                        stopline::pipeline::plate_detail::imageBox(work, row, options, scale);
                std::fprintf(features, "%s,%zu,%d,%d,%d,%d,%.4f", label.source.c_str(), i, box.x,
                             box.y, box.width, box.height, plateIou(box, label.box));
                for (double v : row.features)
                    std::fprintf(features, ",%.5g", v);
                std::fprintf(features, "\n");
            }
        }
        if (args.verbose) {
            /* The recall ceiling: the best row among all proposals, before ranking. */
            double scale = 1;
            cv::Mat work =
                    stopline::pipeline::plate_detail::workImage(img, options.workSize, &scale);
            auto rows = stopline::pipeline::plate_detail::proposeRows(work, options);
            double oracle = 0;
            int oracleRank = -1;
            const stopline::pipeline::plate_detail::CharRow *oracleRow = nullptr;
            for (std::size_t k = 0; k < rows.size(); ++k) {
                const cv::Rect &p = rows[k].plate;
                cv::Rect box(cvRound(p.x / scale), cvRound(p.y / scale), cvRound(p.width / scale),
                             cvRound(p.height / scale));
                double iou = plateIou(box, label.box);
                if (iou > oracle) {
                    oracle = iou;
                    oracleRank = static_cast<int>(k);
                    oracleRow = &rows[k];
                }
            }
            std::printf("%-44s %s iou=%.2f rank=%d n=%zu ms=%.1f | rows=%zu oracle=%.2f "
                        "orank=%d",
                        label.source.c_str(), best >= 0.5 ? "OK  " : "MISS", best, bestRank,
                        boxes.size(), ms, rows.size(), oracle, oracleRank);
            if (oracleRow) {
                const cv::Rect &c = oracleRow->chars;
                double lh = label.box.height * scale, lw = label.box.width * scale;
                double lcx = (label.box.x + label.box.width / 2.0) * scale;
                double lcy = (label.box.y + label.box.height / 2.0) * scale;
                std::printf(" geom lh/ch=%.2f lw/rw=%.2f dx=%.2f dy=%.2f cnt=%d sc=%.2f",
                            lh / oracleRow->charHeight, lw / c.width,
                            (lcx - (c.x + c.width / 2.0)) / lw, (lcy - (c.y + c.height / 2.0)) / lh,
                            oracleRow->count, oracleRow->score);
            }
            std::printf("\n");
        }
        if (!args.dumpDir.empty()) {
            fs::create_directories(args.dumpDir);
            cv::Mat vis = img.clone();
            drawBox(vis, label.box, cv::Scalar(0, 255, 0), 3);
            for (std::size_t k = 0; k < boxes.size(); ++k)
                drawBox(vis, boxes[k].box, k == 0 ? cv::Scalar(0, 0, 255) : cv::Scalar(255, 0, 255),
                        2);
            double f = std::min(1.0, 960.0 / vis.cols);
            cv::resize(vis, vis, cv::Size(), f, f, cv::INTER_AREA);
            fs::path out =
                    fs::path(args.dumpDir) / (fs::path(label.source).stem().string() + ".png");
            cv::imwrite(out.string(), vis);
        }
    }
    if (features)
        std::fclose(features);
    if (images == 0) {
        std::cerr << "stopline-plates: no labelled images in " << args.dir << "\n";
        return 2;
    }
    std::sort(perImageMs.begin(), perImageMs.end());
    double recall50 = double(found50) / images, recall30 = double(found30) / images;
    double perImage = double(candidates) / images;
    if (args.verbose)
        std::printf("median_ms=%.2f max_ms=%.2f cpu_ms_per_image=%.2f unreadable=%d "
                    "label_errors=%zu\n",
                    perImageMs[perImageMs.size() / 2], perImageMs.back(), totalCpuMs / images,
                    unreadable, errors.size());
    std::printf("images=%d recall_iou50=%.3f recall_iou30=%.3f candidates_per_image=%.2f "
                "ms_per_image=%.2f\n",
                images, recall50, recall30, perImage, totalMs / images);
    int rc = 0;
    if (args.minRecall50 >= 0 && recall50 < args.minRecall50) {
        std::cerr << "stopline-plates: recall_iou50 " << recall50 << " is below "
                  << args.minRecall50 << "\n";
        rc = 1;
    }
    if (args.maxCandidates >= 0 && perImage > args.maxCandidates) {
        std::cerr << "stopline-plates: candidates_per_image " << perImage << " is above "
                  << args.maxCandidates << "\n";
        rc = 1;
    }
    return rc;
}

int runLocate(const std::vector<std::string> &images, const std::vector<std::string> &sets)
{
    PlateLocator locator(parseOverrides(sets));
    int rc = 0;
    for (const auto &path : images) {
        cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
        if (img.empty()) {
            std::cerr << "stopline-plates: cannot read image " << path << "\n";
            rc = 1;
            continue;
        }
        for (const auto &b : locator.locate(img))
            std::printf("%s\t%d\t%d\t%d\t%d\t%.3f\n", path.c_str(), b.box.x, b.box.y, b.box.width,
                        b.box.height, b.score);
    }
    return rc;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"stopline-plates: licence-plate locator evaluation and inspection"};
    app.require_subcommand(1);

    EvalArgs evalArgs;
    CLI::App *eval = app.add_subcommand(
            "eval", "score the locator on a folder of NAME.txt labels (openalpr benchmark format)");
    eval->add_option("dir", evalArgs.dir, "folder of images and NAME.txt labels")->required();
    eval->add_option("--subset", evalArgs.subset, "all, even or odd files (by sorted name)")
            ->check(CLI::IsMember({"all", "even", "odd"}));
    eval->add_flag("-v,--verbose", evalArgs.verbose, "one line per image with diagnostics");
    eval->add_option("--dump", evalArgs.dumpDir,
                     "write each image with label (green) and candidates (red) as PNG here");
    eval->add_option("--features", evalArgs.featuresFile,
                     "write every proposed row's features and IoU as CSV (for fitting weights)");
    eval->add_option("--min-recall50", evalArgs.minRecall50,
                     "exit 1 when recall_iou50 is below this");
    eval->add_option("--max-candidates", evalArgs.maxCandidates,
                     "exit 1 when candidates_per_image is above this");
    eval->add_flag("--skip-missing", evalArgs.skipMissing,
                   "exit 77 (skipped) when the folder is absent");
    eval->add_option("--set", evalArgs.sets, "override a locator option, name=value");

    std::vector<std::string> locateImages, locateSets;
    CLI::App *locate = app.add_subcommand(
            "locate", "print candidates for images: file x y w h score, best first");
    locate->add_option("images", locateImages, "image files")->required();
    locate->add_option("--set", locateSets, "override a locator option, name=value");

    CLI11_PARSE(app, argc, argv);
    try {
        if (*eval)
            return runEval(evalArgs);
        return runLocate(locateImages, locateSets);
    } catch (const std::exception &e) {
        std::cerr << "stopline-plates: " << e.what() << "\n";
        return 2;
    }
}
